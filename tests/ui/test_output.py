"""The output pane: stored output when a step is selected, then live batches, never twice."""

from __future__ import annotations

from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.tool_output import MAX_LINES, ToolOutput
from tests.helpers import run_idle
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until

STREAM = "for i in $(seq 1 40); do echo line $i; sleep 0.03; done"


async def test_live_output_is_shown_once(store: Store, settings: Settings, tmp_path: Path) -> None:
    settings.policy.tools = {"shell": "allow"}
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "stream.toml", STREAM))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        output = app.main.query_one(ToolOutput)
        await wait_until(pilot, lambda: "line 3" in output.lines, "live output")
        assert goal_status(store, goal_id) == "running"
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "completed", "the end")
        await wait_until(pilot, lambda: "line 40" in output.lines, "the last line")
        assert [line for line in output.lines if line] == [f"line {i}" for i in range(1, 41)]


async def test_selecting_a_finished_step_loads_its_output(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings.policy.tools = {"shell": "allow"}
    first = add_file_goal(store, shell_recipe(tmp_path / "a.toml", "echo first", title="A"))
    second = add_file_goal(store, shell_recipe(tmp_path / "b.toml", "echo second", title="B"))
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        output = app.main.query_one(ToolOutput)
        for goal_id in (first, second):
            await wait_until(pilot, lambda g=goal_id: goal_status(store, g) == "completed", "runs")
        await wait_until(pilot, lambda: output.lines[:1] == ["first"], "the first goal's output")
        await pilot.press("down")
        assert output.lines[:1] == ["second"]
        assert "succeeded · exit 0" in str(output.border_subtitle)


async def test_a_burst_past_the_line_cap_still_shows_its_end(
    store: Store, settings: Settings
) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        output = app.main.query_one(ToolOutput)
        output.write("".join(f"line {i}\n" for i in range(MAX_LINES * 3)))
        await pilot.pause()
        assert len(output.lines) == MAX_LINES
        assert MAX_LINES - 1 <= output.virtual_size.height <= MAX_LINES
        assert 0 < output.max_scroll_y < MAX_LINES
        assert output.scroll_offset.y == output.max_scroll_y


async def test_a_capped_output_says_where_all_of_it_is_on_which_host(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A viewer of a shared database is told the file and the host that has the whole output."""
    settings.policy.tools = {"shell": "allow"}
    settings.limits.output_cap_bytes = 4096
    settings.executor.host = "buildbox"  # the worker's host name, not this viewer's
    add_file_goal(store, shell_recipe(tmp_path / "loud.toml", "seq 1 20000"))
    await run_idle(store, settings, output_dir=tmp_path / "out")
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        output = app.main.query_one(ToolOutput)
        await wait_until(pilot, lambda: "20000" in output.lines, "the stored tail")
        log = tmp_path / "out" / "1.log"
        assert (
            output.lines[0] == f"… earlier output left out; all of it is in {log} on host buildbox"
        )
