"""At 80×24 the panes are shown one at a time (tab switches) and the header keeps the count."""

from __future__ import annotations

from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.approvals import Approvals
from agent_tui.ui.widgets.status_line import StatusLine
from tests.ui.conftest import add_file_goal, shell_recipe, wait_until


def shown(app: object) -> list[str]:
    main = app.main  # type: ignore[attr-defined]
    return [p for p in ("goal-pane", "middle", "side") if main.query_one(f"#{p}").display]


async def test_panes_collapse_and_the_count_stays(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings.model = "anthropic/a-model-with-a-really-quite-long-name-indeed"
    add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=(80, 24)) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval")
        await pilot.pause()
        assert app.main.has_class("-narrow")
        assert shown(app) == ["goal-pane"]
        header = str(app.main.query_one(StatusLine).content)
        assert header.rstrip().endswith("approvals 1")
        assert len(header) <= 80

        await pilot.press("tab")
        await pilot.pause()
        assert shown(app) == ["middle"]
        await pilot.press("tab")
        await pilot.pause()
        assert shown(app) == ["side"]
        await pilot.press("tab")
        await pilot.pause()
        assert shown(app) == ["goal-pane"]

        await pilot.press("a")  # brings the queue forward first
        await pilot.pause()
        assert shown(app) == ["side"]
        await pilot.press("a")
        await wait_until(pilot, lambda: not approvals.rows, "the approval decided")


async def test_wide_terminal_shows_every_pane(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        assert not app.main.has_class("-narrow")
        assert shown(app) == ["goal-pane", "middle", "side"]


async def test_the_new_goal_error_is_visible_at_80x24(store: Store, settings: Settings) -> None:
    """Enter with priority 0: the error line and the keys are on screen, the field focused."""
    from textual.widgets import Input

    from agent_tui.ui.screens.new_goal import NewGoalScreen

    app = create_app(store, settings, executor=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "n")  # the welcome, then the dialog
        assert isinstance(app.screen, NewGoalScreen)
        app.screen.query_one("#recipe", Input).value = "system-report"
        app.screen.query_one("#priority", Input).value = "0"
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen.region
        for selector in ("#new-goal-error", "#new-goal-keys"):
            widget = app.screen.query_one(selector)
            assert widget.display and screen.contains_region(widget.region), selector
        assert "priority: must be from 1 to 10" in str(
            app.screen.query_one("#new-goal-error").render()
        )
        priority = app.screen.query_one("#priority", Input)
        assert app.focused is priority and priority.has_class("-invalid")
        assert screen.contains_region(priority.region)
        assert store.all("SELECT id FROM goals") == []
