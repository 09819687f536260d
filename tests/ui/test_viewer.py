"""A viewer (no executor here) shows what another connection changes, by polling data_version."""

from __future__ import annotations

from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.approvals import Approvals
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.status_line import StatusLine
from tests.ui.conftest import SIZE, add_file_goal, shell_recipe, wait_until


async def test_viewer_sees_another_connections_changes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    other = store.reopen()
    try:
        app = create_app(store, settings, executor=False)
        async with app.run_test(size=SIZE) as pilot:
            assert app.executor is None
            status = app.main.query_one(StatusLine)
            assert "viewer" in str(status.content)
            goals = app.main.query_one(GoalList)
            assert goals.goal_id is None

            goal_id = add_file_goal(other, shell_recipe(tmp_path / "t.toml", "true"))
            await wait_until(pilot, lambda: goals.row(goal_id) is not None, "the new goal")
            assert goals.goal_id == goal_id

            control.set_global_pause(other, True)
            await wait_until(pilot, lambda: app.main.overview.paused, "the global pause")
            assert "all work paused" in str(status.content)
            assert "P" in app.main.active_bindings
            assert app.main.active_bindings["P"].binding.id == "resume_all"
            assert not app.main.query_one(Approvals).rows
    finally:
        other.close()
