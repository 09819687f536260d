"""Retention on a real database: finished goals lose their output, step events and old document
versions after ``[retention]``'s days, unfinished goals keep everything, ``vacuum`` gives the
pages back, and ``doctor`` says what retention would free."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest

from agent_tui import cli, paths
from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.store import Store, retention
from tests.helpers import HANG, add, goal_status, run_idle, wait_for

DAY = 86400.0
FINISHED = {
    "title": "Finished long ago",
    "steps": [
        {"id": "say", "tool": "echo", "args": {"text": "said once"}},
        {"id": "v1", "tool": "write_document", "args": {"name": "notes", "content": "draft"}},
        {
            "id": "v2",
            "tool": "write_document",
            "args": {"name": "notes", "content": "final"},
            "depends_on": ["v1"],
        },
    ],
}
WAITING = {
    "title": "Still waiting",
    "steps": [
        {"id": "say", "tool": "echo", "args": {"text": "said before the wait"}},
        {
            "id": "ask",
            "tool": "echo",
            "args": {"text": "x"},
            "approval": "ask",
            "depends_on": ["say"],
        },
    ],
}


def counts(store: Store, goal_id: int) -> dict[str, int]:
    def n(sql: str) -> int:
        return int(store.one(sql, (goal_id,))["n"])

    return {
        "output": n(
            "SELECT count(*) AS n FROM output o JOIN actions a ON a.id = o.action_id"
            " WHERE a.goal_id = ?"
        ),
        "step_events": n(
            "SELECT count(*) AS n FROM events WHERE goal_id = ? AND kind NOT LIKE 'goal.%'"
        ),
        "goal_events": n(
            "SELECT count(*) AS n FROM events WHERE goal_id = ? AND kind LIKE 'goal.%'"
        ),
        "versions": n("SELECT count(*) AS n FROM artifacts WHERE goal_id = ?"),
    }


@pytest.fixture
async def goals(store: Store, settings: Settings) -> tuple[int, int]:
    done = add(store, FINISHED)
    waiting = add(store, WAITING)
    await run_idle(store, settings)
    assert goal_status(store, done) == "completed"
    assert goal_status(store, waiting) == "waiting"
    # A long action's stream also went to a log file.
    action = store.one("SELECT id FROM actions WHERE goal_id = ? ORDER BY id LIMIT 1", (done,))
    paths.outputs_dir().mkdir(parents=True, exist_ok=True)
    (paths.outputs_dir() / f"{action['id']}.log").write_text("said once\n" * 1000)
    return done, waiting


def test_defaults() -> None:
    conf = Settings().retention
    assert (conf.output_days, conf.events_days, conf.document_versions_days) == (30, 90, 30)


async def test_prune_by_age_finished_goals_only(store: Store, goals: tuple[int, int]) -> None:
    done, waiting = goals
    conf = Settings()
    before_done, before_waiting = counts(store, done), counts(store, waiting)
    assert before_done["output"] and before_done["step_events"] and before_done["versions"] == 2
    now = time.time()
    assert retention.prune(store, conf, now + 29 * DAY, paths.outputs_dir()).total_bytes == 0

    later = now + 31 * DAY
    expected = retention.estimate(store, conf, later, paths.outputs_dir())
    freed = retention.prune(store, conf, later, paths.outputs_dir())
    assert freed == expected
    assert freed.log_files == 1 and freed.versions == 1 and freed.events == 0
    after = counts(store, done)
    assert after["output"] == 0 and after["versions"] == 1
    assert after["step_events"] == before_done["step_events"]  # events last 90 days
    assert not list(paths.outputs_dir().glob("*.log"))
    latest = store.one("SELECT content FROM artifacts WHERE goal_id = ?", (done,))
    assert latest["content"] == "final"
    # Done once: the next pass reads no goal again.
    assert retention.estimate(store, conf, later, paths.outputs_dir()).total_bytes == 0
    assert retention.prune(store, conf, later, paths.outputs_dir()).total_bytes == 0

    freed = retention.prune(store, conf, now + 91 * DAY, paths.outputs_dir())
    assert freed.events == before_done["step_events"]
    after = counts(store, done)
    assert after["step_events"] == 0 and after["goal_events"] == before_done["goal_events"]
    assert counts(store, waiting) == before_waiting
    pruned = store.one("SELECT data FROM events WHERE kind = 'retention.pruned' ORDER BY id DESC")
    assert json.loads(pruned["data"])["events"] == freed.events


async def test_zero_keeps_forever(store: Store, goals: tuple[int, int]) -> None:
    done, _ = goals
    conf = Settings()
    conf.retention.output_days = 0
    conf.retention.events_days = 0
    conf.retention.document_versions_days = 0
    before = counts(store, done)
    assert retention.prune(store, conf, time.time() + 3650 * DAY, paths.outputs_dir()) == (
        retention.Freed()
    )
    assert counts(store, done) == before


@pytest.mark.sqlite_only
async def test_vacuum_returns_pruned_pages(store: Store, goals: tuple[int, int]) -> None:
    done, _ = goals
    action = store.one("SELECT id FROM actions WHERE goal_id = ? ORDER BY id LIMIT 1", (done,))
    with store.write() as tx:
        for _ in range(40):
            tx.execute(
                "INSERT INTO output (action_id, stream, text, created_at) VALUES (?, 'stdout', ?, 0)",
                (action["id"], "x" * 100_000),
            )
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    retention.prune(store, Settings(), time.time() + 31 * DAY, paths.outputs_dir())
    assert retention.database_sizes(store)["free_bytes"] > 3_000_000
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["vacuum", "--json"]) == 0
    report = json.loads(out.getvalue())
    assert report["mode"] == "incremental"
    assert report["freed_bytes"] > 3_000_000
    assert report["after"]["free_bytes"] == 0


@pytest.mark.sqlite_only
def test_vacuum_of_an_older_database_rewrites_it_once(store: Store) -> None:
    store.conn.execute("PRAGMA auto_vacuum = NONE")
    store.conn.execute("VACUUM")
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["vacuum"]) == 0
    assert "rewritten whole once" in out.getvalue()
    assert "full vacuum" in out.getvalue()
    conn = sqlite3.connect(Path(store.path))
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    conn.close()


async def test_doctor_shows_sizes_and_what_retention_would_free(
    store: Store, goals: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    done, _ = goals
    with store.write() as tx:
        tx.execute("UPDATE goals SET finished_at = finished_at - 40 * 86400 WHERE id = ?", (done,))
    expected = retention.estimate(store, Settings(), time.time(), paths.outputs_dir())
    assert expected.output_rows and expected.log_files == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["doctor", "--json"])
    storage = json.loads(out.getvalue())["storage"]
    if store.dialect == "sqlite":
        assert storage["database_bytes"] == Path(store.path).stat().st_size
        assert storage["auto_vacuum"] == "incremental"
    else:
        assert storage["database_bytes"] == retention.database_sizes(store)["database_bytes"]
        assert storage["auto_vacuum"] == "server"
    assert storage["outputs_files"] == 1 and storage["outputs_bytes"] == 10_000
    assert storage["retention_would_free"]["bytes"] == expected.total_bytes
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["doctor"])
    assert "retention would free" in out.getvalue()


async def test_the_executor_prunes_in_its_housekeeping(
    store: Store, settings: Settings, goals: tuple[int, int]
) -> None:
    done, _ = goals
    later = store.reopen(clock=lambda: time.time() + 31 * DAY)
    executor = Executor(later, settings)
    await executor.start()
    try:
        # the kinds are pruned one after another: wait for the last, not only the first
        await wait_for(
            lambda: counts(store, done)["output"] == 0 and counts(store, done)["versions"] == 1,
            HANG,
        )
    finally:
        await executor.stop()
        later.close()
