"""The TUI says why the selected goal does not start when no live worker may take it."""

from __future__ import annotations

from agent_tui.config import Settings
from agent_tui.core.store import Store, liveness
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.step_timeline import StepTimeline
from tests.helpers import add, echo
from tests.ui.conftest import SIZE, wait_until


async def test_the_timeline_says_which_worker_the_goal_waits_for(
    store: Store, settings: Settings
) -> None:
    goal = add(store, {"title": "train", "runs_on": "gpu", "steps": [echo("s", "x")]})
    app = create_app(store, settings, executor=True)  # its executor offers no label
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.main.query_one(StepTimeline)
        await wait_until(
            pilot,
            lambda: "waits for a worker labelled 'gpu'" in str(timeline.border_subtitle),
            "the reason under the timeline",
        )
        with store.write() as tx:  # a worker with the label starts on another host
            liveness.register(tx, "w-gpu", "worker", ("gpu", "host:gpubox"))
            tx.execute("UPDATE workers SET host = 'gpubox' WHERE id = 'w-gpu'")
        app.main.refresh_goal()
        assert "waits for" not in str(timeline.border_subtitle)
        assert app.main.goal is not None and app.main.goal.id == goal
