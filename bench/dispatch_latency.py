"""Dispatch latency: from a step becoming runnable to its tool starting.

In-process: a chain of echo steps (each step's completion makes the next runnable) and approvals given
in the executor's own process. Across processes: 1, 2 and 4 real ``agent-tui worker`` subprocesses
share the steps while this process approves them one at a time, on SQLite and, with ``--store URL``
(or ``--store auto``: a throwaway cluster of the machine's PostgreSQL), on PostgreSQL, side by side.
Targets: in-process p50 ≤ 5 ms and p99 ≤ 50 ms; across processes p50 ≤ 2 ms and p99 ≤ 10 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import subprocess
import sys
import time

from common import ROOT, fresh_home, parser, percentiles, report

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.store import Event, Store, open_store


def chain(n: int) -> dict:
    steps = [{"id": "s0", "tool": "echo", "args": {"text": "0"}}]
    steps += [
        {"id": f"s{i}", "tool": "echo", "args": {"text": str(i)}, "depends_on": [f"s{i - 1}"]}
        for i in range(1, n)
    ]
    return {"title": "chain", "steps": steps}


def asking(n: int) -> dict:
    return {
        "title": "asks",
        "steps": [
            {"id": f"a{i}", "tool": "echo", "args": {"text": str(i)}, "approval": "ask"}
            for i in range(n)
        ],
    }


async def in_process(n_chain: int, n_approvals: int) -> dict:
    store = Store(paths.db_path())
    settings = Settings()
    completed: dict[int, float] = {}
    started: dict[int, float] = {}
    approved: dict[int, float] = {}

    def listen(event: Event) -> None:
        now = time.perf_counter()
        if event.kind == "step.completed" and event.step_id is not None:
            completed[event.step_id] = now
        elif event.kind == "action.running" and event.step_id is not None:
            started[event.step_id] = now

    store.listeners.append(listen)
    executor = Executor(store, settings)
    await executor.start()
    goal = add_recipe_goal(store, parse_recipe(chain(n_chain)))
    await executor.run_until_idle()
    ids = [
        r["id"]
        for r in store.all("SELECT id FROM steps WHERE goal_id = ? ORDER BY position", (goal,))
    ]
    dependency = [(started[b] - completed[a]) * 1000 for a, b in itertools.pairwise(ids)]

    add_recipe_goal(store, parse_recipe(asking(n_approvals)))
    await executor.run_until_idle()
    for approval in store.all("SELECT id, step_id FROM approvals WHERE status = 'pending'"):
        approved[approval["step_id"]] = time.perf_counter()
        control.approve(store, approval["id"])
        await executor.run_until_idle(settle=0)
    approval_ms = [(started[s] - t) * 1000 for s, t in approved.items()]
    await executor.stop()
    return {"dependency_done": percentiles(dependency), "approval_given": percentiles(approval_ms)}


def cross_process(n: int, url: str | None = None, workers: int = 1) -> dict:
    env = dict(os.environ)
    if url:
        env["AGENT_TUI_STORE_URL"] = url
    store = open_store(Settings(), url or paths.db_path())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent_tui.cli", "worker"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )
        for _ in range(workers)
    ]
    try:
        # Every worker has started (registered) and found nothing to do: on 2 cores four
        # workers take several seconds to start, and an approval before then measures that.
        deadline = time.time() + 60
        while time.time() < deadline:
            row = store.one("SELECT count(*) AS n FROM workers")
            if row and row["n"] >= workers:
                break
            time.sleep(0.05)
        time.sleep(1)
        add_recipe_goal(store, parse_recipe(asking(n)))
        samples: list[float] = []
        deadline = time.time() + 60
        while len(samples) < n and time.time() < deadline:
            pending = store.all(
                "SELECT id, action_id FROM approvals WHERE status = 'pending' ORDER BY id LIMIT 1"
            )
            if not pending:
                time.sleep(0.005)
                continue
            approval = pending[0]
            time.sleep(random.uniform(0, 0.1))  # approvals come at any moment, not in step
            control.approve(store, approval["id"])
            committed = time.time()
            while True:
                row = store.one(
                    "SELECT started_at FROM actions WHERE id = ?", (approval["action_id"],)
                )
                if row and row["started_at"]:
                    samples.append((row["started_at"] - committed) * 1000)
                    break
                if time.time() > deadline:
                    break
                time.sleep(0.001)
        return {"approval_given": percentiles(samples)}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)
        store.close()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--store", help="a postgresql:// url, or 'auto' for a throwaway cluster")
    p.add_argument("--approvals", type=int, default=200, help="approvals per run across processes")
    args = p.parse_args()
    fresh_home()
    result: dict = {
        "benchmark": "dispatch_latency",
        "in_process": asyncio.run(in_process(400, 200)),
    }
    cluster = None
    url = args.store
    if url == "auto":
        from tests.postgres_cluster import Cluster

        cluster = Cluster().start()
    try:
        backends: dict[str, str | None] = {"sqlite": None}
        if url:
            backends["postgresql"] = "auto" if cluster else url
        cross: dict = {}
        for name, target in backends.items():
            for workers in (1, 2, 4):
                fresh_home()
                if target == "auto" and cluster is not None:
                    target_url: str | None = cluster.database()
                else:
                    target_url = target
                cross[f"{name}_{workers}_workers"] = cross_process(
                    args.approvals, target_url, workers
                )["approval_given"]
        result["cross_process"] = cross
    finally:
        if cluster is not None:
            cluster.remove()
    result["targets"] = {
        "in_process_p50_ms": 5,
        "in_process_p99_ms": 50,
        "cross_process_p50_ms": 2,
        "cross_process_p99_ms": 10,
    }
    ip = result["in_process"]
    result["meets_targets"] = (
        max(ip["dependency_done"]["p50_ms"], ip["approval_given"]["p50_ms"]) <= 5
        and max(ip["dependency_done"]["p99_ms"], ip["approval_given"]["p99_ms"]) <= 50
        and all(c["p50_ms"] <= 2 and c["p99_ms"] <= 10 for c in cross.values())
    )
    report(result, args.json)


if __name__ == "__main__":
    main()
