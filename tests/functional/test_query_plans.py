"""Every query the panes, ``ls`` and ``show`` run is answered through an index: none scans the
steps, actions or events tables, whose size grows with history.

The statements are not listed by hand: they are recorded (``sqlite3`` trace callback) while the
real ``ls``, ``ls --json``, ``show`` and ``show --json`` run in this process and while the UI's
queries read a finished goal, then each is put through ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_tui import cli
from agent_tui.config import Settings
from agent_tui.core import store as store_module
from agent_tui.core import timeline
from agent_tui.core.checkpoints import record
from agent_tui.core.store import Store, retention
from agent_tui.core.store import panes as queries
from agent_tui.core.store.views import conversations, goal_detail, pending_approvals
from tests.helpers import add, goal_status, run_idle

GROWING = ("steps", "actions", "events")
RECIPE = {
    "title": "Planned queries",
    "steps": [
        {"id": "one", "tool": "echo", "args": {"text": "one"}},
        {"id": "two", "tool": "echo", "args": {"text": "two"}, "depends_on": ["one"]},
        {
            "id": "doc",
            "tool": "write_document",
            "args": {"name": "notes", "content": "# Notes"},
            "depends_on": ["two"],
        },
        {
            "id": "doc2",
            "tool": "write_document",
            "args": {"name": "notes", "content": "# Notes, again"},
            "depends_on": ["doc"],
        },
    ],
}


@contextlib.contextmanager
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement any store opened in this block runs, with its parameters filled in."""
    statements: list[str] = []
    connect = store_module.Store._connect

    def traced(self: Store) -> sqlite3.Connection:
        conn = connect(self)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(store_module.Store, "_connect", traced)
    yield statements
    monkeypatch.undo()


def full_scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    """The plan lines of ``sql`` that read a growing table (or its alias) from end to end."""
    names = set(GROWING)
    for table in GROWING:
        names |= set(re.findall(rf"\b{table}\s+(?:AS\s+)?(\w+)", sql, re.IGNORECASE))
    found = []
    for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
        detail = row[3]
        match = re.match(r"SCAN (\w+)", detail)
        if match and match.group(1) in names:
            found.append(detail)
    return found


def reads(statements: list[str]) -> list[str]:
    return sorted(
        {s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))},
    )


@pytest.mark.sqlite_only
async def test_no_view_scans_steps_actions_or_events(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    goal = add(store, RECIPE)
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"
    with recorded(monkeypatch) as statements:
        for argv in (["ls"], ["ls", "--json"], ["show", str(goal)], ["show", str(goal), "--json"]):
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main(argv) == 0
        view = store.reopen()
        try:
            rows = queries.goal_rows(view, counts=False)
            queries.goal_rows(view, [r.id for r in rows])
            for step in queries.step_rows(view, goal):
                queries.messages_after(view, step["id"])
                if step["action_id"]:
                    queries.action_row(view, step["action_id"])
                    queries.output_after(view, step["action_id"], 0)
                    queries.checkpoint_of(view, step["action_id"])
            queries.documents(view, goal)
            queries.overview(view)
            goal_detail(view, goal)
            conversations(view, goal)
            pending_approvals(view)
            timeline.build(view, goal)
            record.for_goal(view, goal)
            retention.estimate(view, Settings(), view.clock() + 400 * 86400)
        finally:
            view.close()
    checked = reads(statements)
    assert len(checked) > 20, checked
    conn = sqlite3.connect(Path(store.path))
    try:
        assert full_scans(conn, "SELECT id FROM actions WHERE tool = 'echo'") == ["SCAN actions"]
        scans = {sql: found for sql in checked if (found := full_scans(conn, sql))}
    finally:
        conn.close()
    assert scans == {}
