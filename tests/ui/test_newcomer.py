"""Rough edges a newcomer hit in the TUI: the pause hint, one toast per event."""

from __future__ import annotations

from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core import control, timeline
from agent_tui.core.store import Event, Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.gantt import chart as gantt_chart
from agent_tui.ui.widgets.goal_list import GoalList
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until


def _toasts(app: object) -> list[str]:
    return [n.message for n in app._notifications]  # type: ignore[attr-defined]


async def test_pausing_a_goal_says_its_running_steps_finish(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "s.toml", "sleep 30", title="Slow"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: store.all("SELECT id FROM approvals"), "the approval")
        control.approve(store, 1)
        running = "SELECT 1 FROM steps WHERE status = 'running' AND goal_id = ?"
        await wait_until(pilot, lambda: store.one(running, (goal_id,)), "the step running")
        app.main.query_one(GoalList).select_goal(goal_id)
        await pilot.pause()
        await pilot.press("p")
        await wait_until(pilot, lambda: any("paused" in t for t in _toasts(app)), "a toast")
        [toast] = [t for t in _toasts(app) if "paused" in t]
        assert toast == (
            f"goal {goal_id} paused: no new step starts; 1 running step(s) finish (c cancels them)"
        )
        control.cancel_goal(store, goal_id)


async def test_an_event_delivered_twice_toasts_once(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        event = Event(7, 0.0, "goal.failed", "step 'a' failed: boom", 1, None, None, None)
        app.main.announce([event])
        app.main.announce([event])  # the watcher brings the event the executor pushed
        await pilot.pause()
        assert [t for t in _toasts(app) if "boom" in t] == ["step 'a' failed: boom"]


async def test_the_full_view_of_an_approval_is_one_key_away(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """``v`` from the goal list; tab reaches the queue in one stop per pane; ``a`` then enter."""
    from agent_tui.ui.screens.approval import ApprovalScreen
    from agent_tui.ui.widgets.approvals import Approvals

    add_file_goal(store, shell_recipe(tmp_path / "s.toml", "echo hi"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval")
        app.main.query_one(GoalList).focus()
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the full view")
        await pilot.press("escape")
        await pilot.pause()

        app.main.query_one(GoalList).focus()
        await pilot.press("tab", "tab", "tab")  # goals → steps → output → the queue
        await pilot.pause()
        assert app.focused is app.main.query_one("#approval-list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "enter")
        await pilot.press("escape")


async def test_at_80x24_a_then_enter_opens_the_full_view(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from agent_tui.ui.screens.approval import ApprovalScreen
    from agent_tui.ui.widgets.approvals import Approvals

    add_file_goal(store, shell_recipe(tmp_path / "s.toml", "echo hi"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=(80, 24)) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval")
        await pilot.press("a")  # the first press brings the queue forward
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the full view")


async def test_z_shows_the_focused_pane_alone(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        app.main.query_one("#steps").focus()
        await pilot.press("z")
        assert app.main.maximized is app.main.query_one("#steps")
        await pilot.press("z")
        assert app.main.maximized is None


async def test_side_panes_widen_with_the_terminal(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.query_one("#goal-pane").size.width >= 50
        assert app.main.query_one("#side").size.width >= 56


async def test_g_opens_the_timeline_and_it_grows_while_the_goal_runs(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from agent_tui.ui.screens.gantt import GanttScreen

    goal_id = add_file_goal(store, shell_recipe(tmp_path / "s.toml", "echo hi", title="Asks"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: store.all("SELECT id FROM approvals"), "the approval")
        app.main.query_one(GoalList).select_goal(goal_id)
        await pilot.pause()
        await pilot.press("g")
        assert isinstance(app.screen, GanttScreen)

        def chart() -> str:
            return str(app.screen.query_one("#gantt-chart").render())

        await wait_until(pilot, lambda: "▒" in chart(), "the approval wait drawn")
        control.approve(store, 1)
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "completed", "the run")
        screen = app.screen
        assert isinstance(screen, GanttScreen)

        def final() -> str:
            line = timeline.build(store, goal_id)
            assert line is not None
            width = screen.query_one("#gantt-scroll").content_region.width
            return str(gantt_chart(line, width))

        await wait_until(pilot, lambda: chart() == final(), "the finished run drawn", 5)
        await pilot.press("escape")
        assert app.screen is app.main


async def test_search_finds_an_output_and_selects_its_goal_and_step(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from textual.widgets import Input

    from agent_tui.ui.screens.search import SearchScreen
    from agent_tui.ui.widgets.step_timeline import StepTimeline
    from tests.helpers import add, echo, run_idle

    first = add(store, {"title": "Other", "steps": [echo("x", "nothing here")]})
    goal_id = add(
        store,
        {"title": "Has it", "steps": [echo("a", "plain"), echo("b", "the heron output")]},
    )
    await run_idle(store, settings)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(GoalList).select_goal(first)
        await pilot.pause()
        await pilot.press("S")
        assert isinstance(app.screen, SearchScreen)
        app.screen.query_one("#search-input", Input).value = "hero"
        await pilot.press("enter")
        screen = app.screen
        await wait_until(pilot, lambda: screen.hits, "the hits")
        assert {(h.kind, h.goal_id) for h in screen.hits} == {("output", goal_id)}
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.screen is app.main, "the dialog closed")
        assert app.main.query_one(GoalList).goal_id == goal_id
        timeline = app.main.query_one(StepTimeline)
        await wait_until(pilot, lambda: timeline.step_id is not None, "the steps")
        await wait_until(
            pilot, lambda: timeline.step(timeline.step_id)["key"] == "b", "the step selected"
        )


async def test_write_file_and_dry_run_steps_never_show_an_empty_pane(
    store: Store, settings: Settings
) -> None:
    from agent_tui.ui.widgets.step_timeline import StepTimeline
    from agent_tui.ui.widgets.tool_output import ToolOutput
    from tests.helpers import add, run_idle, shell

    written = add(
        store,
        {
            "title": "Writes",
            "steps": [
                {"id": "w", "tool": "write_file", "args": {"path": "a.txt", "content": "hello\n"}}
            ],
        },
    )
    dry = add(store, {"title": "Dry", "dry_run": True, "steps": [shell("s", "rm -rf build")]})
    await run_idle(store, settings)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        output = app.main.query_one(ToolOutput)
        timeline = app.main.query_one(StepTimeline)

        def pane() -> str:
            return "\n".join(output.lines)

        app.main.query_one(GoalList).select_goal(written)
        await wait_until(pilot, lambda: "+hello" in pane(), "the diff of the write")
        assert "write_file · succeeded" in str(output.border_subtitle)

        app.main.query_one(GoalList).select_goal(dry)
        await wait_until(pilot, lambda: "dry run: not executed" in pane(), "the dry run")
        assert "rm -rf build" in pane()
        assert "dry run: not executed" in str(output.border_subtitle)
        row = timeline.get_row_at(0)
        assert str(row[1]) == "≈ dry run" and str(row[5]) == "not executed (dry run)"
        goals = app.main.query_one(GoalList)
        line = goals.render_line(goals.order.index(dry)).text
        assert line.startswith("≈ #")


async def test_the_welcome_comes_back_from_the_palette(store: Store, settings: Settings) -> None:
    from agent_tui.ui.screens.welcome import WelcomeScreen

    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("escape")
        assert app.screen is app.main
        [command] = [c for c in app.get_system_commands(app.main) if c.title == "Show the welcome"]
        command.callback()
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)


async def test_e_leaves_no_temporary_folder_behind(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: object
) -> None:
    import tempfile

    from tests.helpers import add, run_idle

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # type: ignore[attr-defined]
    monkeypatch.setenv("EDITOR", "true")  # type: ignore[attr-defined]
    goal_id = add(
        store,
        {
            "title": "Doc",
            "steps": [
                {"id": "d", "tool": "write_document", "args": {"name": "N", "content": "# N"}}
            ],
        },
    )
    await run_idle(store, settings)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(GoalList).select_goal(goal_id)
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
    assert list(scratch.iterdir()) == []


async def test_output_wraps_by_default_and_w_turns_it_off(store: Store, settings: Settings) -> None:
    from agent_tui.ui.widgets.tool_output import ToolOutput
    from tests.helpers import add, echo, run_idle

    long = "x" * 150 + "END"
    goal_id = add(store, {"title": "Long", "steps": [echo("say", long)]})
    await run_idle(store, settings)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(GoalList).select_goal(goal_id)
        output = app.main.query_one(ToolOutput)
        await wait_until(pilot, lambda: "END" in "".join(output.lines), "the output")

        def wrapped() -> bool:
            width = output.scrollable_content_region.width
            return all(len(line) <= width for line in output.lines)

        await wait_until(pilot, wrapped, "the long line wrapped at the pane's width")
        assert "".join(output.lines).startswith("x" * 150 + "END")
        app.main.query_one(GoalList).focus()
        await pilot.press("w")
        await wait_until(pilot, lambda: long in output.lines, "the line unwrapped")
        assert "not wrapped (w)" in str(output.border_subtitle)
