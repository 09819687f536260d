"""Goal control from the keyboard: pause and resume, the new-goal dialog, cancel with a question."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.screens.new_goal import NewGoalScreen
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.step_timeline import StepTimeline
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until

ECHO_RECIPE = """\
title = "Say hello"

[[steps]]
id = "hello"
tool = "echo"
args = { text = "hello from the modal" }
"""


async def test_p_pauses_and_resumes_the_goal(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        goals = app.main.query_one(GoalList)
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "waiting", "the approval")
        assert goals.goal_id == goal_id

        await pilot.press("p")
        assert goal_status(store, goal_id) == "paused"
        await wait_until(pilot, lambda: goals.row(goal_id)["status"] == "paused", "the list")
        assert app.main.active_bindings["p"].binding.id == "resume_goal"

        await pilot.press("p")
        assert goal_status(store, goal_id) == "waiting"
        await wait_until(pilot, lambda: goals.row(goal_id)["status"] == "waiting", "the list")
        assert app.main.active_bindings["p"].binding.id == "pause_goal"


async def test_new_goal_from_a_recipe_path(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hello.toml").write_text(ECHO_RECIPE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NewGoalScreen)
        await pilot.press(*"nope.toml", "enter")
        error = str(app.screen.query_one("#new-goal-error", Static).content)
        assert error.startswith(f"recipe {tmp_path / 'nope.toml'}: no such file")
        assert isinstance(app.screen, NewGoalScreen)

        field = app.screen.query_one("#recipe", Input)
        field.value = ""
        await pilot.press("h", "e")
        await wait_until(pilot, lambda: field._suggestion == "hello.toml", "the path completion")
        await pilot.press("right", "enter")
        assert app.screen is app.main

        goals = app.main.query_one(GoalList)
        row = store.one("SELECT id FROM goals WHERE title = 'Say hello'")
        assert row is not None
        assert goals.goal_id == row["id"]
        await wait_until(pilot, lambda: goal_status(store, row["id"]) == "completed", "the run")
        timeline = app.main.query_one(StepTimeline)
        await wait_until(
            pilot, lambda: [s["status"] for s in timeline.steps] == ["completed"], "the timeline"
        )


async def test_c_cancels_after_confirming(store: Store, settings: Settings, tmp_path: Path) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert goal_status(store, goal_id) == "queued"

        await pilot.press("c", "y")
        assert goal_status(store, goal_id) == "cancelled"
        goals = app.main.query_one(GoalList)
        await wait_until(pilot, lambda: goals.row(goal_id)["status"] == "cancelled", "the list")
        assert "c" not in app.main.active_bindings
