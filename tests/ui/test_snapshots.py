"""Snapshot tests: the screens as a user sees them, at a fixed size, from a pinned demo database.

The app is built by :func:`create_app` as the CLI builds it, as a viewer (no executor here, so
nothing moves), with animations off and the store's clock frozen. Update the SVGs after an
intended change with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at them.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import AgentTuiApp, create_app
from agent_tui.ui.screens.dialogs import ConfirmScreen, ReasonScreen
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.step_timeline import StepTimeline
from tests.conftest import ROOT, offline_settings
from tests.ui.demo import add_usage, build_demo, fixed_store

SIZE = (120, 36)
FIXED_HOME = Path("/tmp/agent-tui-snapshots")
"""The welcome shows where the data lives, so its home must be the same path on every run (the
tests that use it run on one xdist worker: ``xdist_group``)."""

Snap = Callable[..., bool]
Before = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def demo(home: Path) -> Iterator[Store]:
    db = home / "data" / "agent-tui.db"
    build_demo(db)
    store = fixed_store(db)
    yield store
    store.close()


def viewer(store: Store, settings: Settings | None = None) -> AgentTuiApp:
    app = create_app(store, settings or offline_settings(), executor=False)
    app.animation_level = "none"
    return app


async def settle(pilot: Pilot[Any]) -> None:
    """Let refreshes, workers and Markdown rendering finish; stop inputs' cursors blinking (shown
    steadily: a blink timer that fires before the screenshot, as on a loaded machine, would hide
    the cursor in one picture out of two)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def select(goal_title: str, step_row: int | None = None, keys: tuple[str, ...] = ()) -> Before:
    """Highlight a goal (and a step), then press ``keys``."""

    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AgentTuiApp)
        await settle(pilot)
        goals = app.main.query_one(GoalList)
        row = app.store.one("SELECT id FROM goals WHERE title = ?", (goal_title,))
        assert row is not None
        goals.select_goal(row["id"])
        await settle(pilot)
        if step_row is not None:
            app.main.query_one(StepTimeline).move_cursor(row=step_row)
            await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return before


def test_main_screen_with_a_running_goal(snap_compare: Snap, demo: Store) -> None:
    before = select("Nightly build", step_row=1)
    assert snap_compare(viewer(demo), terminal_size=SIZE, run_before=before)


def test_approval_detail_with_a_diff(snap_compare: Snap, demo: Store) -> None:
    """The full view that enter opens on the highlighted approval (nothing is decided)."""

    async def before(pilot: Pilot[Any]) -> None:
        await select("Tune the web server")(pilot)
        pilot.app.screen.query_one("#approval-list").focus()
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SIZE, run_before=before)


def test_document_page(snap_compare: Snap, demo: Store) -> None:
    before = select("Release notes", keys=("right_square_bracket",))
    assert snap_compare(viewer(demo), terminal_size=SIZE, run_before=before)


def test_failed_goal(snap_compare: Snap, demo: Store) -> None:
    before = select("Disk check", step_row=0)
    assert snap_compare(viewer(demo), terminal_size=SIZE, run_before=before)


def test_light_theme(snap_compare: Snap, demo: Store) -> None:
    app = viewer(demo)

    async def before(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "agent-tui-light"
        await select("Nightly build", step_row=1)(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


@pytest.mark.xdist_group("fixed-home")
def test_welcome_with_no_model(snap_compare: Snap, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(FIXED_HOME, ignore_errors=True)
    monkeypatch.setenv("AGENT_TUI_HOME", str(FIXED_HOME))
    monkeypatch.chdir(ROOT)
    store = fixed_store(FIXED_HOME / "data" / "agent-tui.db")
    try:
        assert snap_compare(viewer(store), terminal_size=SIZE, run_before=settle)
    finally:
        store.close()
        shutil.rmtree(FIXED_HOME, ignore_errors=True)


def test_small_terminal(snap_compare: Snap, demo: Store) -> None:
    before = select("Nightly build", step_row=1)
    assert snap_compare(viewer(demo), terminal_size=(80, 24), run_before=before)


SMALL = (80, 24)
"""Every dialog must fit the smallest common terminal: errors and keys visible, content scrolls."""


def test_new_goal_dialog_with_an_error_at_80x24(snap_compare: Snap, demo: Store) -> None:
    """Enter with priority 0: the error and the keys are on screen, the field is marked."""

    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        pilot.app.screen.query_one("#recipe", Input).value = "system-report"
        pilot.app.screen.query_one("#priority", Input).value = "0"
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


def test_confirm_dialog_with_a_long_list_at_80x24(snap_compare: Snap, demo: Store) -> None:
    listing = "\n".join(f"#{n} shell: make target-{n}" for n in range(1, 31))

    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.push_screen(ConfirmScreen("Approve all 30 pending action(s) of goal 2?", listing))
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


def test_reason_dialog_at_80x24(snap_compare: Snap, demo: Store) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.push_screen(ReasonScreen("Reject #4: shell: rm -rf build/ && make all"))
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


def test_help_at_80x24(snap_compare: Snap, demo: Store) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


def test_approval_detail_at_80x24(snap_compare: Snap, demo: Store) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await select("Tune the web server")(pilot)
        pilot.app.screen.query_one("#approval-list").focus()
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


@pytest.mark.xdist_group("fixed-home")
def test_welcome_at_80x24(snap_compare: Snap, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(FIXED_HOME, ignore_errors=True)
    monkeypatch.setenv("AGENT_TUI_HOME", str(FIXED_HOME))
    monkeypatch.chdir(ROOT)
    store = fixed_store(FIXED_HOME / "data" / "agent-tui.db")
    try:
        assert snap_compare(viewer(store), terminal_size=SMALL, run_before=settle)
    finally:
        store.close()
        shutil.rmtree(FIXED_HOME, ignore_errors=True)


def test_timeline_of_a_running_goal(snap_compare: Snap, demo: Store) -> None:
    """``g``: the nightly build's steps on a time axis, the running one growing to now."""
    before = select("Nightly build", keys=("g",))
    assert snap_compare(viewer(demo), terminal_size=SIZE, run_before=before)


def test_timeline_waiting_for_approval_at_80x24(snap_compare: Snap, demo: Store) -> None:
    before = select("Tune the web server", keys=("g",))
    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


def test_search_at_80x24(snap_compare: Snap, demo: Store) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        pilot.app.screen.query_one("#search-input", Input).value = "compiling"
        await pilot.press("enter")
        for _ in range(200):
            if getattr(pilot.app.screen, "hits", None):
                break
            await pilot.pause(0.02)
        await settle(pilot)

    assert snap_compare(viewer(demo), terminal_size=SMALL, run_before=before)


def test_usage_view(snap_compare: Snap, demo: Store) -> None:
    add_usage(demo)
    settings = offline_settings()
    settings.budget.daily_usd = 0.05

    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("dollar_sign")
        await settle(pilot)

    assert snap_compare(viewer(demo, settings), terminal_size=SIZE, run_before=before)
