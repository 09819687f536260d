"""Throughput: trivial steps per second through one executor, beside two ceilings, in one run.

- The executor's own transactions in a plain loop: the same claim, start and finish transactions
  (the same functions) with no scheduler, no tasks and no tools. Target: the executor reaches at
  least half of it.
- The minimal SQLite job loop, the floor under any SQLite job queue: per job an INSERT, a claim
  (``UPDATE … RETURNING`` in ``BEGIN IMMEDIATE``) and a finish ``UPDATE``, each its own commit, in
  WAL with ``synchronous=NORMAL``. Target: at least 0.3 of it (huey reaches about 0.27).

Then real ``agent-tui worker`` processes, 1, 2 and 4 of them, share the same steps, on SQLite and,
with ``--store URL`` (or ``--store auto``: a throwaway cluster of the machine's PostgreSQL), on
PostgreSQL: steps per second from the first step's start to the last one's end. Target: 4 workers
not below one (no collapse under contention).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time

from common import ROOT, child_env, fresh_home, parser, report

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.store import Store, open_store, runs


def recipe(n: int) -> dict:
    return {
        "title": "trivial",
        "steps": [{"id": f"s{i}", "tool": "echo", "args": {"text": "x"}} for i in range(n)],
    }


def add_goals(store: Store, goals: int, steps: int) -> None:
    parsed = parse_recipe(recipe(steps))
    for _ in range(goals):
        add_recipe_goal(store, parsed)


async def with_executor(goals: int, steps: int) -> float:
    store = Store(paths.db_path())
    add_goals(store, goals, steps)
    executor = Executor(store, Settings())
    start = time.perf_counter()
    await executor.start()
    await executor.run_until_idle(settle=0)
    elapsed = time.perf_counter() - start
    await executor.stop()
    done = store.one("SELECT count(*) AS n FROM steps WHERE status = 'completed'")["n"]
    assert done == goals * steps, f"only {done} of {goals * steps} steps completed"
    return goals * steps / elapsed


def ceiling(goals: int, steps: int) -> float:
    """The executor's commits per step, in a loop: claim (batches of 4), start, finish."""
    store = Store(paths.db_path())
    add_goals(store, goals, steps)
    settings = Settings()
    limits = runs.ClaimLimits(
        settings.executor.max_parallel,
        settings.executor.per_goal_parallel,
        settings.executor.lease_seconds,
    )
    total = goals * steps
    done = 0
    start = time.perf_counter()
    while done < total:
        with store.write() as tx:
            claimed = runs.claim(tx, "ceiling", limits, settings.executor.max_parallel)
        for step in claimed:
            with store.write() as tx:
                action_id, _ = runs.propose_action(
                    tx,
                    step,
                    tool="echo",
                    args={"text": "x"},
                    side_effects=False,
                    decision="allow",
                    reason="default",
                    preview="echo 'x'",
                    dry_run=False,
                )
                runs.start_action(tx, action_id, "ceiling")
                tx.event(
                    "action.running",
                    "echo: x",
                    goal_id=step["goal_id"],
                    step_id=step["id"],
                    action_id=action_id,
                )
            outcome = runs.Outcome(ok=True, output="x", data={}, error=None)
            with store.write() as tx:
                tx.execute(
                    "INSERT INTO output (action_id, stream, text, created_at)"
                    " VALUES (?, 'stdout', 'x', ?)",
                    (action_id, tx.now),
                )
                tx.execute("UPDATE actions SET output_bytes = 1 WHERE id = ?", (action_id,))
                runs.finish_action(tx, action_id, step, outcome, retry_delay=1)
        done += len(claimed)
    return total / (time.perf_counter() - start)


def minimal_loop(jobs: int) -> float:
    """Jobs a second through the minimal SQLite job loop (three commits a job)."""
    path = paths.db_path().with_name("minimal.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, payload TEXT, result TEXT)"
    )
    conn.execute("CREATE INDEX jobs_ready ON jobs (status, id)")
    start = time.perf_counter()
    for _ in range(jobs):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO jobs (status, payload) VALUES ('ready', 'x')")
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        (job,) = conn.execute(
            "UPDATE jobs SET status = 'running' WHERE id = (SELECT id FROM jobs"
            " WHERE status = 'ready' ORDER BY id LIMIT 1) RETURNING id"
        ).fetchone()
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE jobs SET status = 'done', result = 'x' WHERE id = ?", (job,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return jobs / elapsed


def with_workers(n: int, goals: int, steps: int, url: str | None) -> float:
    """Steps per second through ``n`` worker processes, first start to last finish."""
    store = open_store(Settings(), url or paths.db_path())
    add_goals(store, goals, steps)
    env = child_env()
    if url:
        env["AGENT_TUI_STORE_URL"] = url
    env["AGENT_TUI_EXECUTOR__MAX_PARALLEL"] = str(4 * n)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent_tui.cli", "worker", "--until-idle"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    for proc in procs:
        proc.wait(600)
    row = store.one(
        "SELECT count(*) AS n, min(started_at) AS a, max(finished_at) AS b FROM steps"
        " WHERE status = 'completed'"
    )
    store.close()
    assert row and row["n"] == goals * steps, f"only {row and row['n']} steps completed"
    return goals * steps / (row["b"] - row["a"])


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--steps", type=int, default=500, help="steps per goal (at most 500)")
    p.add_argument("--goals", type=int, default=6)
    p.add_argument("--store", help="a postgresql:// url, or 'auto' for a throwaway cluster")
    args = p.parse_args()
    fresh_home()
    minimal = minimal_loop(args.goals * args.steps)
    fresh_home()
    raw = ceiling(args.goals, args.steps)
    fresh_home()
    ours = asyncio.run(with_executor(args.goals, args.steps))
    cluster = None
    if args.store == "auto":
        from tests.postgres_cluster import Cluster

        cluster = Cluster().start()
    processes: dict[str, float] = {}
    try:
        backends = ["sqlite"] + (["postgresql"] if args.store else [])
        for backend in backends:
            for n in (1, 2, 4):
                fresh_home()
                url = None
                if backend == "postgresql":
                    url = cluster.database() if cluster else args.store
                processes[f"{backend}_{n}_workers"] = round(
                    with_workers(n, args.goals, args.steps, url), 1
                )
    finally:
        if cluster is not None:
            cluster.remove()
    report(
        {
            "benchmark": "throughput",
            "steps": args.goals * args.steps,
            "executor_steps_per_s": round(ours, 1),
            "ceiling_steps_per_s": round(raw, 1),
            "ratio": round(ours / raw, 3),
            "target_ratio": 0.5,
            "minimal_loop_jobs_per_s": round(minimal, 1),
            "ratio_to_minimal_loop": round(ours / minimal, 3),
            "target_ratio_to_minimal_loop": 0.3,
            "workers_steps_per_s": processes,
            "meets_target": ours / raw >= 0.5 and ours / minimal >= 0.3,
            "no_collapse": all(
                processes[f"{b}_4_workers"] >= processes[f"{b}_1_workers"]
                for b in ("sqlite", "postgresql")
                if f"{b}_1_workers" in processes
            ),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
