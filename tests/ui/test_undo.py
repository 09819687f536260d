"""Checkpoints in the TUI: the timeline and the goal list count what a step changed; ``u`` shows the
undo plan and, on yes, restores the workspace."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.step_timeline import StepTimeline
from agent_tui.ui.widgets.tool_output import ToolOutput
from tests.helpers import add, workspace_of
from tests.ui.conftest import SIZE, goal_status, wait_until


async def test_u_shows_the_plan_and_undoes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings.policy.tools["shell"] = "allow"
    goal = add(
        store,
        {
            "title": "Write notes",
            "steps": [{"id": "w", "tool": "shell", "args": {"command": "echo hi > notes.txt"}}],
        },
    )
    notes = workspace_of(store, goal) / "notes.txt"
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: goal_status(store, goal) == "completed", "the run")
        assert notes.read_text() == "hi\n"
        timeline = app.main.query_one(StepTimeline)
        await wait_until(
            pilot,
            lambda: any(s.get("files_changed") for s in timeline.steps),
            "the step's change in the timeline",
        )
        assert timeline.get_cell(str(timeline.steps[0]["id"]), "note").plain == (
            "changed 1 file (+1 −0)"
        )
        goals = app.main.query_one(GoalList)
        await wait_until(pilot, lambda: goals.rows[goal].files_changed == 1, "±1")
        output = app.main.query_one(ToolOutput)
        await wait_until(pilot, lambda: "changed 1 file" in output.border_subtitle, "the pane")
        output.sync(store)  # any later commit makes the pane read its action again: it stays
        assert "changed 1 file" in output.border_subtitle

        goals.focus()
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the plan")
        shown = str(app.screen.query_one(".dialog-detail", Static).content)
        assert "delete   notes.txt" in shown
        await pilot.press("y")
        await wait_until(pilot, lambda: not notes.exists(), "the undo")
        await wait_until(pilot, lambda: goals.rows[goal].files_changed == 0, "the count to clear")
