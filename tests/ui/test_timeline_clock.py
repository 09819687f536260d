"""The step timeline's times move each second while a step runs, and nothing ticks when none does
(an idle TUI is not woken each second for it)."""

from __future__ import annotations

from agent_tui.config import Settings
from agent_tui.core.store import Store, runs
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.step_timeline import StepTimeline
from tests.helpers import add, echo
from tests.ui.conftest import SIZE, wait_until


def _time_cell(timeline: StepTimeline) -> str:
    return str(timeline.get_row_at(0)[4])


async def test_a_running_steps_time_moves_and_stops_when_it_ends(
    store: Store, settings: Settings
) -> None:
    goal = add(store, {"title": "long", "steps": [echo("s", "x")]})
    limits = runs.ClaimLimits(4, 4, 600)
    with store.write() as tx:  # another process runs it, started 5 s ago
        (step,) = runs.claim(tx, "elsewhere", limits, 1)
        action_id, _ = runs.propose_action(
            tx,
            step,
            tool="echo",
            args={"text": "x"},
            side_effects=False,
            decision="allow",
            reason="default",
            preview="echo 'x'",
            dry_run=False,
        )
        runs.start_action(tx, action_id, "elsewhere")
        tx.execute("UPDATE actions SET started_at = ? WHERE id = ?", (tx.now - 5, action_id))
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.main.query_one(StepTimeline)
        await wait_until(pilot, lambda: timeline.row_count == 1, "the step's row")
        assert timeline.ticking
        first = _time_cell(timeline)
        await wait_until(pilot, lambda: _time_cell(timeline) != first, "the time to move", 5)

        with store.write() as tx:
            runs.finish_action(
                tx, action_id, step, runs.Outcome(True, "x", {}, None), retry_delay=1
            )
        app.main.refresh_goal()
        assert "done" in str(timeline.get_row_at(0)[1])
        assert not timeline.ticking
