"""The schedules screen: ``S`` opens it; ``p`` pauses and resumes, ``r`` runs one now."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from agent_tui.config import Settings
from agent_tui.core.goals import add_schedule
from agent_tui.core.recipes import load_recipe
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.schedules import SchedulesScreen
from tests.ui.conftest import SIZE, wait_until

RECIPE = 'title = "Nightly"\n[[steps]]\nid = "e"\ntool = "echo"\nargs = { text = "hi" }\n'


async def test_pause_resume_and_run_now_from_the_tui(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "nightly.toml"
    path.write_text(RECIPE)
    schedule_id, _ = add_schedule(store, load_recipe(path), "0 3 * * *", recipe_path=path)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")  # the welcome (no goal yet)
        await pilot.press("at")
        await wait_until(pilot, lambda: isinstance(app.screen, SchedulesScreen), "the screen")
        table = app.screen.query_one(DataTable)
        assert table.get_cell(str(schedule_id), "state").plain == "active"
        await pilot.press("p")
        assert table.get_cell(str(schedule_id), "state").plain == "paused"
        assert store.one("SELECT enabled FROM schedules")["enabled"] == 0
        await pilot.press("p")
        assert table.get_cell(str(schedule_id), "state").plain == "active"
        await pilot.press("r")
        await wait_until(
            pilot,
            lambda: store.one("SELECT status FROM goals WHERE title = 'Nightly'") is not None,
            "the run",
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, SchedulesScreen)
