"""A demo database for snapshot tests and screenshots: real runs, then times fixed with SQL.

:func:`build_demo` runs a few small recipes through the real executor (shell allowed, one step at
a time so ids come out the same on every run), then pins every timestamp to :data:`FIXED`, puts
one step back into ``running`` and registers a worker with a fresh heartbeat (the viewer says one
runs elsewhere), so what the screen shows never depends on the clock.
Open the result with :func:`fixed_store`, whose clock is frozen at :data:`FIXED`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.store import Store

FIXED = 1_767_268_800.0
"""2026-01-01 12:00 UTC: "now" for every demo screen."""

NIGHTLY: dict[str, Any] = {
    "title": "Nightly build",
    "priority": 8,
    "steps": [
        {
            "id": "fetch",
            "tool": "shell",
            "args": {"command": "echo 'fetching origin/main'; echo 'HEAD is now at 4f2c9e1'"},
        },
        {
            "id": "build",
            "tool": "shell",
            "depends_on": ["fetch"],
            "args": {
                "command": 'for m in core store executor ui cli; do echo "compiling $m"; done'
            },
        },
        {"id": "test", "tool": "shell", "depends_on": ["build"], "args": {"command": "true"}},
        {
            "id": "publish",
            "tool": "write_document",
            "depends_on": ["test"],
            "args": {"name": "Build log", "content": "done"},
        },
    ],
}

RELEASE_NOTES: dict[str, Any] = {
    "title": "Release notes",
    "priority": 5,
    "steps": [
        {
            "id": "notes",
            "tool": "write_document",
            "args": {
                "name": "Release notes",
                "content": (
                    "# Release 0.4\n\n"
                    "Everything that landed since 0.3, grouped by area.\n\n"
                    "## Executor\n\n"
                    "- Approvals no longer hold a slot: other steps keep running.\n"
                    "- A crashed worker's steps are recovered by the next one.\n\n"
                    "## Interface\n\n"
                    "| pane | new |\n|---|---|\n"
                    "| Goals | filter and sort |\n| Documents | one page per artifact |\n\n"
                    "```sh\nagent-tui add --recipe examples/system-report.toml\n```\n"
                ),
            },
        },
        {
            "id": "changelog",
            "tool": "write_document",
            "depends_on": ["notes"],
            "args": {"name": "Changelog", "content": "# Changelog\n\n- 0.4: see the notes."},
        },
    ],
}

CONFIG_EDIT: dict[str, Any] = {
    "title": "Tune the web server",
    "priority": 6,
    "steps": [
        {
            "id": "draft",
            "tool": "write_file",
            "args": {
                "path": "nginx.conf",
                "content": "worker_processes 1;\nevents {\n    worker_connections 512;\n}\n"
                "keepalive_timeout 65;\n",
            },
        },
        {
            "id": "tune",
            "tool": "write_file",
            "depends_on": ["draft"],
            "approval": "ask",
            "args": {
                "path": "nginx.conf",
                "content": "worker_processes auto;\nevents {\n    worker_connections 4096;\n}\n"
                "keepalive_timeout 65;\ngzip on;\n",
            },
        },
    ],
}

DISK_CHECK: dict[str, Any] = {
    "title": "Disk check",
    "priority": 4,
    "steps": [
        {
            "id": "usage",
            "tool": "shell",
            "args": {"command": "echo 'checking /srv/backups'; echo 'quota exceeded' ; exit 3"},
            "max_attempts": 1,
        },
        {
            "id": "report",
            "tool": "write_document",
            "depends_on": ["usage"],
            "args": {"name": "Disk report", "content": "{{ steps.usage.output }}"},
        },
    ],
}

DEMO_GOALS = (NIGHTLY, RELEASE_NOTES, CONFIG_EDIT, DISK_CHECK)


def demo_settings() -> Settings:
    """Shell allowed, one step at a time, no model: the same run every time."""
    settings = Settings()
    settings.llm.ollama_url = ""  # never a local Ollama's model
    settings.policy.tools = {"shell": "allow"}
    settings.executor.max_parallel = 1
    settings.executor.per_goal_parallel = 1
    settings.retry.max_attempts = 1
    return settings


async def _run(store: Store, settings: Settings) -> None:
    executor = Executor(store, settings, kind="demo")
    await executor.start(detect_model=False)
    try:
        await asyncio.wait_for(executor.run_until_idle(), 60)
    finally:
        await executor.stop()


def build_demo(db: Path) -> None:
    """Create the demo database at ``db`` (run the goals, then pin the clock)."""
    store = Store(db)
    try:
        settings = demo_settings()
        for recipe in DEMO_GOALS:
            add_recipe_goal(store, parse_recipe(recipe), max_attempts=1)
            asyncio.run(_run(store, settings))
        pin_times(store)
    finally:
        store.close()


def pin_times(store: Store) -> None:
    """Every timestamp becomes a fixed offset from :data:`FIXED`; the build step runs again."""
    with store.write() as tx:
        for table in ("goals", "steps"):
            tx.execute(
                f"UPDATE {table} SET created_at = :t - 600, updated_at = :t - 60,"
                " started_at = CASE WHEN started_at IS NULL THEN NULL ELSE :t - 300 + id END,"
                " finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE :t - 200 + id END",
                {"t": FIXED},
            )
        tx.execute(
            "UPDATE actions SET created_at = :t - 300, started_at = CASE WHEN started_at IS NULL"
            " THEN NULL ELSE :t - 300 + id END, finished_at = CASE WHEN finished_at IS NULL"
            " THEN NULL ELSE :t - 300 + id + 0.25 * id END",
            {"t": FIXED},
        )
        for table in ("output", "artifacts", "approvals", "usage", "messages"):
            column = "ts" if table == "usage" else "created_at"
            tx.execute(f"UPDATE {table} SET {column} = ?", (FIXED - 100,))
        # In journal order, two seconds apart: the timeline chart reads the run from them.
        tx.execute("UPDATE events SET ts = ? + 2 * id", (FIXED - 300,))
        tx.execute("DELETE FROM workers")
        tx.execute(
            "INSERT INTO workers (id, pid, host, kind, started_at, heartbeat_at)"
            " VALUES ('worker-demo', 1, 'demo', 'worker', ?, ?)",
            (FIXED - 600, FIXED),
        )
        _make_running(tx, FIXED)


def _make_running(tx: Any, now: float) -> None:
    """Put the nightly build back in the middle of its ``build`` step, 12.3 s in."""
    goal = tx.one("SELECT id FROM goals WHERE title = ?", (NIGHTLY["title"],))
    build = tx.one("SELECT id FROM steps WHERE goal_id = ? AND key = 'build'", (goal["id"],))
    tx.execute(
        "UPDATE goals SET status = 'running', finished_at = NULL, status_message = NULL"
        " WHERE id = ?",
        (goal["id"],),
    )
    tx.execute(
        "UPDATE steps SET status = 'running', finished_at = NULL, result = NULL WHERE id = ?",
        (build["id"],),
    )
    tx.execute(
        "UPDATE steps SET status = 'pending', finished_at = NULL, started_at = NULL, attempt = 0,"
        " result = NULL WHERE goal_id = ? AND key IN ('test', 'publish')",
        (goal["id"],),
    )
    tx.execute(
        "DELETE FROM actions WHERE goal_id = ? AND step_id IN (SELECT id FROM steps"
        " WHERE goal_id = ? AND key IN ('test', 'publish'))",
        (goal["id"], goal["id"]),
    )
    tx.execute("DELETE FROM artifacts WHERE goal_id = ?", (goal["id"],))
    tx.execute(  # the journal agrees: build has not finished, test and publish never started
        "DELETE FROM events WHERE goal_id = ? AND (step_id IN (SELECT id FROM steps"
        " WHERE goal_id = ? AND key IN ('test', 'publish')) OR (step_id = ? AND kind IN"
        " ('step.completed', 'action.succeeded', 'checkpoint.recorded')) OR kind = 'goal.completed')",
        (goal["id"], goal["id"], build["id"]),
    )
    tx.execute(
        "UPDATE actions SET status = 'running', exit_code = NULL, finished_at = NULL,"
        " started_at = ? WHERE step_id = ?",
        (now - 12.3, build["id"]),
    )


def fixed_store(db: Path) -> Store:
    """The demo database with its clock frozen at :data:`FIXED`."""
    return Store(db, clock=lambda: FIXED)


def bulk_goals(store: Store, goals: int, steps_per_goal: int = 0) -> None:
    """Insert ``goals`` goals (and their steps) fast, with executemany, in one transaction."""
    statuses = ("completed", "running", "waiting", "failed", "queued", "paused")
    with store.write() as tx:
        first = (tx.one("SELECT max(id) AS m FROM goals") or {}).get("m") or 0
        tx.store.conn.executemany(
            "INSERT INTO goals (id, title, source, status, priority, workspace, plan_version,"
            " created_at, updated_at) VALUES (?, ?, 'recipe', ?, ?, '', 1, ?, ?)",
            (
                (
                    first + i,
                    f"Goal {first + i} of the bulk load",
                    statuses[i % len(statuses)],
                    1 + i % 10,
                    FIXED - i,
                    FIXED - i,
                )
                for i in range(1, goals + 1)
            ),
        )
        if steps_per_goal:
            tx.store.conn.executemany(
                "INSERT INTO steps (goal_id, plan_version, key, position, title, kind, tool,"
                " status, created_at, updated_at) VALUES (?, 1, ?, ?, ?, 'tool', 'echo', ?, ?, ?)",
                (
                    (
                        first + g,
                        f"s{p}",
                        p,
                        f"step {p}",
                        "completed" if p % 2 else "pending",
                        FIXED,
                        FIXED,
                    )
                    for g in range(1, goals + 1)
                    for p in range(steps_per_goal)
                ),
            )


def add_usage(store: Store) -> None:
    """Model calls over three days for three goals; one model's cost is unknown."""
    goals = {r["title"]: r["id"] for r in store.all("SELECT id, title FROM goals")}
    calls = [
        ("Release notes", 0, 0.012),
        ("Release notes", 1, 0.020),
        ("Tune the web server", 1, 0.004),
        ("Tune the web server", 2, None),
        ("Nightly build", 2, 0.031),
        ("Nightly build", 0, 0.009),
    ]
    with store.write() as tx:
        for title, days_ago, cost in calls:
            tx.execute(
                "INSERT INTO usage (ts, goal_id, model, prompt_tokens, completion_tokens, cost)"
                " VALUES (?, ?, 'anthropic/claude-sonnet-4-5', 1200, 300, ?)",
                (FIXED - 86400 * days_ago - 60, goals[title], cost),
            )
