"""Always allow (the rule is shown before it is saved), approving a whole goal, the full view."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.approval import ApprovalScreen
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.widgets.approvals import Approvals
from tests.ui.conftest import SIZE, add_file_goal, goal_status, wait_until

TWO_SHELLS = """\
title = "Two commands"

[[steps]]
id = "one"
tool = "shell"
args = { command = "git status --short" }

[[steps]]
id = "two"
tool = "shell"
args = { command = "echo two" }
"""


async def test_always_allow_shows_the_rule_then_saves_it(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    recipe = tmp_path / "two.toml"
    recipe.write_text(TWO_SHELLS, encoding="utf-8")
    add_file_goal(store, recipe)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: len(approvals.rows) == 2, "both approvals")
        await pilot.press("A")
        assert isinstance(app.screen, ConfirmScreen)
        detail = str(app.screen.query_one(".dialog-detail", Static).content)
        assert 'Rule:  shell prefix "git status" → allow' in detail
        assert "It also allows:" in detail
        assert store.all("SELECT * FROM rules") == []

        await pilot.press("n")
        assert store.all("SELECT * FROM rules") == []
        await pilot.press("A", "y")
        rules = store.all("SELECT tool, matcher, pattern, decision FROM rules")
        assert rules == [
            {"tool": "shell", "matcher": "prefix", "pattern": "git status", "decision": "allow"}
        ]
        # ``git status`` fails outside a repository, and the failed goal withdraws the second.
        await wait_until(pilot, lambda: len(approvals.rows) < 2, "the first one decided")
        assert store.one("SELECT status FROM approvals WHERE id = 1") == {"status": "approved"}


async def test_approve_goal_approves_every_action_after_asking(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    recipe = tmp_path / "two.toml"
    recipe.write_text(TWO_SHELLS.replace("git status --short", "echo one"), encoding="utf-8")
    goal_id = add_file_goal(store, recipe)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: len(approvals.rows) == 2, "both approvals")
        await pilot.press("G")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Approve all 2 pending action(s) of goal" in str(app.screen.question)
        await pilot.press("y")
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "completed", "the run")
        await wait_until(pilot, lambda: not approvals.rows, "the queue to empty")


async def test_enter_opens_the_full_view_whose_keys_decide(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    recipe = tmp_path / "two.toml"
    recipe.write_text(TWO_SHELLS.replace("git status --short", "echo one"), encoding="utf-8")
    add_file_goal(store, recipe)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: len(approvals.rows) == 2, "both approvals")
        approvals.query_one("#approval-list").focus()
        await pilot.press("enter")
        assert isinstance(app.screen, ApprovalScreen)
        assert "$ echo one" in str(app.screen.query_one("#approval-full-detail", Static).content)
        await pilot.press("a")
        assert app.screen is app.main
        await wait_until(pilot, lambda: len(approvals.rows) == 1, "one decided")


async def test_two_quick_presses_decide_two_approvals(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    recipe = tmp_path / "two.toml"
    recipe.write_text(TWO_SHELLS.replace("git status --short", "echo one"), encoding="utf-8")
    add_file_goal(store, recipe)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: len(approvals.rows) == 2, "both approvals")
        # Back to back, before the bridge reports the first decision: the first one refreshes
        # the queue itself, so the second acts on the next approval.
        await app.main.run_action("approve")
        await app.main.run_action("approve")
        decided = store.all("SELECT status FROM approvals ORDER BY id")
        assert decided == [{"status": "approved"}, {"status": "approved"}]
        assert not [n for n in app._notifications if n.severity == "error"]
