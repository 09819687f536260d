"""Approving and rejecting from the approvals pane, with the real executor running the command."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static, TabbedContent

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.dialogs import ReasonScreen
from agent_tui.ui.widgets.approvals import Approvals
from tests.helpers import workspace_of
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, step_row, wait_until


async def test_approve_runs_the_command(store: Store, settings: Settings, tmp_path: Path) -> None:
    command = "echo approved && touch canary"
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "touch.toml", command))
    canary = workspace_of(store, goal_id) / "canary"
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval to reach the pane")
        detail = str(app.main.query_one("#approval-detail", Static).content)
        assert f"$ {command}" in detail
        tab = app.main.query_one(TabbedContent).get_tab("approvals-tab")
        assert str(tab.label) == "Approvals 1"
        assert not canary.exists()

        await pilot.press("a")
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "completed", "completion")
        assert canary.exists()
        await wait_until(pilot, lambda: not approvals.rows, "the queue to empty")
        assert str(tab.label) == "Approvals"


async def test_reject_asks_for_a_reason(store: Store, settings: Settings, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "touch.toml", f"touch {canary}"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval to reach the pane")

        await pilot.press("r")
        assert isinstance(app.screen, ReasonScreen)
        assert app.screen.query_one(Input).has_focus
        await pilot.press(*"not today", "enter")
        assert app.screen is app.main

        await wait_until(pilot, lambda: goal_status(store, goal_id) == "failed", "the goal failing")
        step = step_row(store, goal_id, "touch")
        assert step["status"] == "failed"
        assert step["error"] == "rejected: not today"
        assert not approvals.rows
    assert not canary.exists()


async def test_escape_leaves_the_approval_pending(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval to reach the pane")
        await pilot.press("r", "escape")
        assert app.screen is app.main
        assert step_row(store, goal_id, "touch")["status"] == "waiting_approval"
        assert len(approvals.rows) == 1
