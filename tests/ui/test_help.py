"""Every action has a key, a footer entry when it applies, and a command-palette entry."""

from __future__ import annotations

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.help import HelpScreen
from agent_tui.ui.screens.main_actions import BINDINGS
from agent_tui.ui.screens.welcome import WelcomeScreen
from tests.ui.conftest import SIZE


async def test_help_and_palette_list_the_keys(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)  # no goals yet
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = dict(app.screen.keys)
        assert described["n"] == "New goal from a recipe or text"
        assert described["p"] == "Pause the selected goal / Resume the selected goal"
        # A binding with several keys lists each as the footer shows it, never "c,super+^c".
        assert all("," not in key or ", " in key for key in described)
        assert not any("+^" in key for key in described), list(described)
        await pilot.press("escape")
        assert app.screen is app.main

        titles = {command.title for command in app.get_system_commands(app.main)}
        assert "New goal from a recipe or text" in titles
        assert "Pause all work (global)" in titles
        assert "Approve the highlighted approval" not in titles  # nothing to approve


def test_every_binding_has_an_id_and_avoids_browser_keys() -> None:
    ids = [b.id for b in BINDINGS]  # type: ignore[union-attr]
    assert all(ids) and len(set(ids)) == len(ids)
    keys = {b.key for b in BINDINGS}  # type: ignore[union-attr]
    assert not keys & {"ctrl+w", "ctrl+t", "ctrl+n"}
