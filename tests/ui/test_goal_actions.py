"""The new-goal dialog's options, archiving a finished goal, exporting a document page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input, Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.new_goal import NewGoalScreen
from agent_tui.ui.widgets.documents import Documents
from agent_tui.ui.widgets.goal_list import GoalList
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until

DOC_RECIPE = """\
title = "One page"

[[steps]]
id = "page"
tool = "write_document"
args = { name = "Weekly report", content = "# Weekly\\n\\nall good" }
"""


async def test_new_goal_options(store: Store, settings: Settings, tmp_path: Path) -> None:
    add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NewGoalScreen)
        screen.query_one("#text", Input).value = "summarise the logs"
        screen.query_one("#schedule", Input).value = "0 9 * * 1"
        await pilot.press("ctrl+s")
        error = str(screen.query_one("#new-goal-error", Static).content)
        assert error == "schedule: needs a recipe: goals in words cannot be scheduled yet"

        screen.query_one("#schedule", Input).value = ""
        screen.query_one("#priority", Input).value = "11"
        await pilot.press("ctrl+s")
        assert "priority: must be from 1 to 10" in str(screen.query_one("#new-goal-error").content)

        screen.query_one("#priority", Input).value = "9"
        screen.query_one("#budget", Input).value = "1.5"
        screen.query_one("#timeout", Input).value = "deny after 30m"
        screen.query_one("#dry-run", Checkbox).value = True
        screen.query_one("#review-plan", Checkbox).value = True
        await pilot.press("ctrl+s")
        assert app.screen is app.main
    row = store.one("SELECT * FROM goals WHERE title = 'summarise the logs'")
    assert row is not None
    assert (row["priority"], row["dry_run"], row["review_plan"]) == (9, 1, 1)
    assert json.loads(row["budget"]) == {"max_usd": 1.5}
    assert row["approval_timeout"] == 1800


async def test_new_goal_schedule_for_a_recipe(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    recipe = shell_recipe(tmp_path / "t.toml", "true", title="Weekly")
    add_file_goal(store, recipe)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        app.screen.query_one("#recipe", Input).value = str(recipe)
        app.screen.query_one("#schedule", Input).value = "0 9 * * 1"
        await pilot.press("ctrl+s")
        assert app.screen is app.main
    schedule = store.one("SELECT title, cron FROM schedules")
    assert schedule == {"title": "Weekly", "cron": "0 9 * * 1"}


async def test_archive_hides_a_finished_goal(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        goals = app.main.query_one(GoalList)
        assert "x" not in app.main.active_bindings  # not finished yet
        await pilot.press("c", "y")
        await wait_until(pilot, lambda: "x" in app.main.active_bindings, "archive to apply")
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: goals.row(goal_id) is None, "the goal to leave the list")
        assert goals.order == []
    assert store.one("SELECT archived FROM goals WHERE id = ?", (goal_id,)) == {"archived": 1}
    assert store.one("SELECT count(*) AS n FROM events WHERE kind = 'goal.archived'") == {"n": 1}
    assert goal_status(store, goal_id) == "cancelled"


async def test_export_writes_the_page_to_the_current_directory(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "doc.toml"
    recipe.write_text(DOC_RECIPE, encoding="utf-8")
    add_file_goal(store, recipe)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        docs = app.main.query_one(Documents)
        await wait_until(pilot, lambda: docs.pages, "the document")
        await pilot.press("E", "E")
    assert (tmp_path / "Weekly-report.md").read_text() == "# Weekly\n\nall good"
    assert (tmp_path / "Weekly-report-2.md").exists()
