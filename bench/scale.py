"""A year of history: how the TUI, ``ls`` and ``show`` cost as goals pile up, and how big the file gets.

For each size (1,000, 10,000 and 100,000 goals of 10 steps each, plus one goal of 1,000 steps) the
database is built from one real run: a recipe of 10 steps (shell commands with output, echoes,
a document written twice) runs through the real executor, then its rows (goal, plan, steps,
dependencies, actions, output, documents, events) are copied with bulk ``INSERT … SELECT`` into a
database made by the real schema, spread over a year, titles and priorities varied. Built databases
are cached under the temporary directory, keyed by size and schema version.

Figures, from the real ``python -m agent_tui.cli`` process (every one includes its start-up):

- ``first_frame``: spawn to the first frame that shows goals, on a pseudo-terminal (120×40).
- ``ls`` / ``ls_json``: the first page of ``agent-tui ls`` (and ``--json``), to exit.
- ``show`` / ``show_json``: ``agent-tui show`` of the goal of 1,000 steps, to exit.
- ``filter``: in the TUI, from typing ``/`` and a title to that goal alone on screen.
- ``cli_version``: ``agent-tui --version``, the start-up every figure above includes.
- ``db_bytes`` and ``bytes_per_step``; then the default retention runs as the executor's
  housekeeping would (finished goals' output after 30 days, events after 90, old document
  versions after 30), and ``vacuum``: what each freed, how long each took, the size left.

Targets: first frame p50 ≤ 350 ms at 10,000 goals and ≤ 500 ms at 100,000; ``ls`` and ``show`` ≤ 300 ms
at 100,000; no figure more than 1.5× its 1,000-goal value.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, child_env, fresh_home, parser, percentiles, report
from ui_latency import Terminal

from agent_tui import paths
from agent_tui.config import CheckpointSettings, PolicySettings, SandboxSettings, Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.store import Store, retention
from agent_tui.core.store.schema import SCHEMA_VERSION

BUILDER = 2
"""Bump when the built databases change shape, so stale caches are rebuilt."""
SIZES = (1_000, 10_000, 100_000)
BIG_STEPS = 1_000
"""Steps of the goal ``show`` prints."""
YEAR = 365 * 86400.0
NAMES = ("Weekly report", "Nightly build", "Fetch the feeds", "Tidy the workspace", "Release notes")
CACHE = Path(tempfile.gettempdir()) / "agent-tui-bench-scale"
TEMPLATE = {
    "title": "template",
    "steps": [
        {"id": "fetch", "tool": "shell", "args": {"command": "seq -f 'fetched line %g of 40' 40"}},
        {"id": "count", "tool": "shell", "args": {"command": "ls -la; echo counted"}},
        {"id": "hello", "tool": "echo", "args": {"text": "hello from the template"}},
        {
            "id": "draft",
            "tool": "write_document",
            "args": {"name": "report", "content": "# Report\n\n" + "A first draft line.\n" * 20},
            "depends_on": ["fetch"],
        },
        {"id": "check", "tool": "shell", "args": {"command": "echo checked; date -u +%F"}},
        {"id": "sum", "tool": "shell", "args": {"command": "seq 1 100 | paste -sd+ | bc || true"}},
        {
            "id": "note",
            "tool": "echo",
            "args": {"text": "{{ steps.fetch.output }}"},
            "depends_on": ["fetch"],
        },
        {
            "id": "final",
            "tool": "write_document",
            "args": {"name": "report", "content": "# Report\n\n" + "The final text.\n" * 30},
            "depends_on": ["draft", "check"],
        },
        {"id": "list", "tool": "shell", "args": {"command": "printf '%s\\n' one two three"}},
        {"id": "done", "tool": "echo", "args": {"text": "done"}, "depends_on": ["final"]},
    ],
}
TABLES = ("goals", "plans", "steps", "step_deps", "actions", "output", "artifacts", "events")
TIME_COLUMNS = {"created_at", "updated_at", "started_at", "finished_at", "ts", "lease_expires"}
REFERENCES = {
    "goal_id": "goals",
    "step_id": "steps",
    "depends_on": "steps",
    "action_id": "actions",
}


async def _run_template(db: Path) -> None:
    """The real executor runs the template recipe once, into ``db``."""
    settings = Settings(
        policy=PolicySettings(tools={"shell": "allow"}),
        sandbox=SandboxSettings(mode="off"),
        checkpoints=CheckpointSettings(enabled=False),
    )
    recipe = parse_recipe(TEMPLATE)
    store = Store(db)
    executor = Executor(store, settings, output_dir=db.parent / "outputs")
    await executor.start(detect_model=False)
    add_recipe_goal(store, recipe)
    await executor.run_until_idle()
    await executor.stop()
    status = store.one("SELECT status FROM goals")
    store.close()
    if not status or status["status"] != "completed":
        raise RuntimeError(f"the template goal did not complete: {status}")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]


def _copy(
    conn: sqlite3.Connection,
    copies: int,
    stride: dict[str, int],
    base: dict[str, int],
    *,
    one_goal: int | None,
    spacing: float,
) -> None:
    """Copy the template's rows ``copies`` times: copy ``k`` gets ids ``base + k × stride + id``.

    With ``one_goal``, every copy belongs to that goal (one goal of many steps); otherwise each copy
    is a goal of its own, ``spacing`` seconds older than the next.
    """
    for table in TABLES:
        if one_goal is not None and table in ("goals", "plans"):
            continue
        cols = _columns(conn, table)
        exprs = []
        for col in cols:
            ref = "goals" if col == "id" and table == "goals" else REFERENCES.get(col)
            if col == "id":
                ref = table
            if one_goal is not None and col == "goal_id":
                exprs.append(str(one_goal))
            elif ref is not None:
                exprs.append(f"{col} + {base[ref]} + k * {stride[ref]}")
            elif col in TIME_COLUMNS:
                shift = "0" if one_goal is not None else f"({copies - 1} - k) * {spacing}"
                exprs.append(f"{col} - {shift}")
            elif table == "goals" and col == "title":
                names = " ".join(f"WHEN {i} THEN '{name}, round '" for i, name in enumerate(NAMES))
                exprs.append(f"(CASE k % {len(NAMES)} {names} END) || (k + 1)")
            elif table == "goals" and col == "priority":
                exprs.append("1 + k % 10")
            elif one_goal is not None and table == "steps" and col == "key":
                exprs.append("key || '.' || k")
            elif one_goal is not None and table == "steps" and col == "position":
                exprs.append(f"position + k * {stride['steps']}")
            elif one_goal is not None and table == "artifacts" and col == "name":
                exprs.append("name || ' ' || k")
            else:
                exprs.append(col)
        where = ""
        if table == "events":
            where = " WHERE goal_id IS NOT NULL"
            where += " AND step_id IS NOT NULL" if one_goal is not None else ""
        order = "" if table == "step_deps" else " ORDER BY k, id"
        conn.execute(
            f"INSERT INTO main.{table} ({', '.join(cols)})"
            f" WITH RECURSIVE copies(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM copies"
            f"   WHERE k + 1 < {copies})"
            f" SELECT {', '.join(exprs)} FROM copies, template.{table}{where}{order}"
        )


def build(goals: int) -> tuple[Path, float]:
    """The database of ``goals`` goals (cached); returns its path and the seconds the build took
    (0 when it came from the cache)."""
    target = CACHE / f"v{SCHEMA_VERSION}.{BUILDER}" / f"{goals}.db"
    if target.exists():
        return target, 0.0
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="agent-tui-scale-", dir=target.parent))
    try:
        template = work / "template.db"
        asyncio.run(_run_template(template))
        partial = work / "built.db"
        Store(partial).close()  # the real schema, migrations and pragmas
        conn = sqlite3.connect(partial, isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"ATTACH '{template}' AS template")
        stride = {
            t: conn.execute(f"SELECT coalesce(max(id), 0) FROM template.{t}").fetchone()[0]
            for t in ("goals", "steps", "actions", "output", "artifacts", "events", "plans")
        }
        conn.execute("BEGIN")
        zero = dict.fromkeys(stride, 0)
        _copy(conn, goals, stride, zero, one_goal=None, spacing=YEAR / goals)
        big = goals + 1
        after = {
            t: conn.execute(f"SELECT coalesce(max(id), 0) FROM main.{t}").fetchone()[0]
            for t in stride
        }
        for table in ("goals", "plans"):
            cols = _columns(conn, table)
            exprs = [
                {"id": f"{after[table] + 1}", "goal_id": str(big)}.get(c, c)
                if not (table == "goals" and c == "title")
                else f"'A goal of {BIG_STEPS:,} steps'"
                for c in cols
            ]
            conn.execute(
                f"INSERT INTO main.{table} ({', '.join(cols)})"
                f" SELECT {', '.join(exprs)} FROM template.{table}"
            )
        _copy(conn, BIG_STEPS // 10, stride, after, one_goal=big, spacing=0)
        conn.execute("COMMIT")
        conn.execute("DETACH template")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        os.replace(partial, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target, time.perf_counter() - started


def _cli(*args: str) -> float:
    """Milliseconds ``python -m agent_tui.cli ARGS`` takes, from spawn to exit."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agent_tui.cli", *args],
        env=child_env(),
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return (time.perf_counter() - started) * 1000


FIRST_ROW = b" #10 "
"""The top row of the goal list: the first goal of the highest priority."""


def _first_frame() -> float:
    term = Terminal()
    try:
        return (term.wait_for(FIRST_ROW, timeout=60) - term.started) * 1000
    finally:
        term.close()


def _filter(goals: int) -> float:
    """From typing a title into the filter field (``/`` opened it) until that goal's row is
    drawn (its priority, the lowest, keeps it off the first screen)."""
    wanted = (goals // 2) // 10 * 10 + 1
    term = Terminal()
    try:
        term.wait_for(FIRST_ROW, timeout=60)
        time.sleep(1.0)
        term.send(b"/")
        time.sleep(0.5)  # the field takes the focus; keys sent before would go to the list
        since = term.mark()
        sent = term.send(f"round {wanted}".encode())
        # The field echoes what was typed; the row shows the goal's id.
        return (term.wait_for(f" #{wanted} ".encode(), since, timeout=60) - sent) * 1000
    finally:
        term.close()


def measure(goals: int, runs: int) -> dict[str, Any]:
    db, build_s = build(goals)
    home = fresh_home()
    paths_db = paths.db_path()
    paths_db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, paths_db)
    os.environ["AGENT_TUI_SANDBOX__MODE"] = "off"
    # The TUI's embedded executor would prune the copy while it is measured: retention is
    # measured on its own, last.
    for key in retention.KINDS.values():
        os.environ[f"AGENT_TUI_RETENTION__{key.upper()}"] = "0"
    steps = sqlite3.connect(db).execute("SELECT count(*) FROM steps").fetchone()[0]
    size = db.stat().st_size
    big = goals + 1
    result: dict[str, Any] = {
        "goals": goals + 1,
        "steps": steps,
        "build_s": round(build_s, 1) if build_s else "cached",
        "db_bytes": size,
        "bytes_per_step": round(size / steps),
    }
    _cli("ls")  # warm-up: fills the bytecode cache (see common.child_env)
    _first_frame()
    result["cli_version"] = percentiles([_cli("--version") for _ in range(runs)])
    result["first_frame"] = percentiles([_first_frame() for _ in range(runs)])
    result["ls"] = percentiles([_cli("ls") for _ in range(runs)])
    result["ls_json"] = percentiles([_cli("ls", "--json") for _ in range(runs)])
    result["show"] = percentiles([_cli("show", str(big)) for _ in range(runs)])
    result["show_json"] = percentiles([_cli("show", str(big), "--json") for _ in range(runs)])
    result["filter"] = percentiles([_filter(goals) for _ in range(max(1, runs // 2))])
    result.update(_retention())
    shutil.rmtree(home, ignore_errors=True)
    return result


def _retention() -> dict[str, Any]:
    """The default retention on the year of history, as the executor's housekeeping runs it,
    then ``vacuum``: how long each takes and the size left."""
    store = Store(paths.db_path())
    try:
        now = time.time()
        estimated = retention.estimate(store, Settings(), now, paths.outputs_dir())
        started = time.perf_counter()
        freed = retention.prune(store, Settings(), now, paths.outputs_dir())
        pruned = time.perf_counter()
        mode, returned = retention.vacuum(store)
        vacuumed = time.perf_counter()
        return {
            "retention_would_free_bytes": estimated.total_bytes,
            "retention_freed_bytes": freed.total_bytes,
            "retention_prune_s": round(pruned - started, 1),
            "vacuum": mode,
            "vacuum_returned_bytes": returned,
            "vacuum_s": round(vacuumed - pruned, 1),
            "db_bytes_after_retention": store.path.stat().st_size,
        }
    finally:
        store.close()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="goal counts, comma-separated (default 1000,10000,100000)",
    )
    p.add_argument("--runs", type=int, default=5, help="samples of each figure")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    result: dict[str, Any] = {"benchmark": "scale", "schema_version": SCHEMA_VERSION}
    for goals in sizes:
        result[str(goals)] = measure(goals, args.runs)
    first = result.get(str(sizes[0]), {})
    checks: dict[str, Any] = {}
    for goals in sizes[1:]:
        row = result[str(goals)]
        for key in ("cli_version", "first_frame", "ls", "ls_json", "show", "show_json", "filter"):
            base = first[key]["p50_ms"]
            checks[f"{goals}.{key}_x"] = round(row[key]["p50_ms"] / base, 2) if base else None
    result["ratio_to_smallest_p50"] = checks
    result["targets"] = {
        "first_frame_p50_ms": {"10000": 350, "100000": 500},
        "ls_p50_ms_100000": 300,
        "show_p50_ms_100000": 300,
        "max_ratio_to_1000": 1.5,
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
