"""The TUI under another process's write lock: keys answer, changes wait and are saved, the header
says so. The lock is real: a second process holds ``BEGIN IMMEDIATE`` on the database file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.help import HelpScreen
from agent_tui.ui.widgets.status_line import StatusLine
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until

LOCKER = """
import select, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
select.select([sys.stdin], [], [], 30)  # until told (stdin closed), at most 30 s
conn.execute("ROLLBACK")
"""


def _lock(db: Path) -> subprocess.Popen[str]:
    """Another process holding the write lock until its stdin is closed (at most 30 s, so a TUI
    that blocks on it fails the test instead of hanging it)."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def _release(locker: subprocess.Popen[str]) -> None:
    assert locker.stdin is not None
    locker.stdin.close()
    locker.wait(timeout=10)


def _header(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.main.query_one(StatusLine).render())


@pytest.mark.sqlite_only
async def test_keys_answer_and_a_change_waits_for_the_lock_then_is_saved(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.executor is not None and app.executor.executor, "start")
        await wait_until(pilot, lambda: app.main.query_one("#approval-list"), "the queue")
        locker = _lock(store.path)
        try:
            await pilot.press("p")  # pause the goal: the database is locked
            await pilot.pause(0.2)
            assert goal_status(store, goal_id) != "paused"  # not yet: it waits for the lock
            header = _header(app)
            assert f"waiting for the database (held by pid {locker.pid})" in header, header

            await pilot.press("question_mark")  # the loop is free: other keys answer at once
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert locker.poll() is None  # all of it while the lock was held
        finally:
            _release(locker)
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "paused", "the pause")
        await wait_until(pilot, lambda: "waiting for the database" not in _header(app), "header")


@pytest.mark.sqlite_only
async def test_changes_made_while_waiting_keep_their_order_and_survive_quitting(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        locker = _lock(store.path)
        try:
            await pilot.press("p")  # pause …
            await pilot.pause(0.1)
            await pilot.press("P")  # … and pause all work, both while locked
            await pilot.pause(0.1)
            assert goal_status(store, goal_id) != "paused"
        finally:
            _release(locker)
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "paused", "the pause")
        await wait_until(pilot, lambda: store.setting("paused") is True, "the global pause")

    # Quitting while a change waits saves it first.
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        locker = _lock(store.path)
        await pilot.press("P")  # resume all, while locked
        await pilot.pause(0.1)
        assert store.setting("paused") is True
        app.call_later(lambda: _release(locker))
        await app.shutdown_core()
    assert store.setting("paused") is False
