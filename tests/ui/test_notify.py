"""Desktop notifications through the terminal (OSC 9 / OSC 777), configurable, never in serve."""

from __future__ import annotations

from agent_tui.core.store import Event, Store
from agent_tui.ui import notify
from agent_tui.ui.app import create_app
from tests.conftest import offline_settings
from tests.ui.conftest import SIZE


def test_auto_picks_by_terminal_and_never_in_a_browser_tab() -> None:
    assert notify.choose("auto", {"TERM_PROGRAM": "iTerm.app"}) == "osc9"
    assert notify.choose("auto", {"WT_SESSION": "x"}) == "osc9"
    assert notify.choose("auto", {"TERM": "foot-extra"}) == "osc777"
    assert notify.choose("auto", {"TERM": "xterm-256color"}) == "off"
    served = {"TERM_PROGRAM": "iTerm.app", "TEXTUAL_DRIVER": "textual.drivers.web_driver:W"}
    assert notify.choose("auto", served) == "off"
    assert notify.choose("osc777", {}) == "osc777" and notify.choose("off", served) == "off"


def test_sequences_cannot_be_broken_by_the_message() -> None:
    assert notify.sequence("osc9", "t", "a\x07b\x1b]c") == "\x1b]9;t: a b ]c\x07"
    assert notify.sequence("osc777", "t;x", "m") == "\x1b]777;notify;t,x;m\x07"
    assert notify.sequence("off", "t", "m") == ""


async def test_an_approval_needed_sends_one_notification(store: Store) -> None:
    settings = offline_settings()
    settings.notify.terminal = "osc9"
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        event = Event(3, 0.0, "approval.requested", "approval 1 needed: $ make", 1, 1, 1, None)
        app.main.announce([event, event])
        assert list(app.main.terminal_notices) == [
            "\x1b]9;agent-tui: approval 1 needed: $ make\x07"
        ]
        settings.notify.terminal = "off"
        app.main.announce([Event(4, 0.0, "goal.failed", "boom", 1, None, None, None)])
        assert len(app.main.terminal_notices) == 1
