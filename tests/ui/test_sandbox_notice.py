"""Where commands would run unsandboxed, the header and the welcome say so; where they run in the
sandbox, the header stays quiet."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from agent_tui.config import Settings
from agent_tui.core.sandbox import sandbox_status
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.welcome import WelcomeScreen
from agent_tui.ui.widgets.status_line import StatusLine
from tests.ui.conftest import SIZE


async def test_sandbox_off_is_said_in_the_header_and_the_welcome(
    store: Store, settings: Settings
) -> None:
    settings.sandbox.mode = "off"
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        line = str(app.screen.query_one("#welcome-sandbox", Static).content)
        assert "full permissions" in line
        await pilot.press("escape")
        header = str(app.main.query_one(StatusLine).content)
        assert "sandbox off" in header


@pytest.mark.skipif(not sandbox_status("auto").active, reason="bubblewrap is not usable here")
async def test_an_active_sandbox_keeps_the_header_quiet(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.screen.query("#welcome-sandbox")
        await pilot.press("escape")
        assert "sandbox" not in str(app.main.query_one(StatusLine).content)
