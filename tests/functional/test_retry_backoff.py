"""A transiently failing step waits in ``retry_wait`` until ``next_attempt_at``, by the backoff."""

from __future__ import annotations

from agent_tui.config import Settings
from agent_tui.core.store import Store
from tests.helpers import add, goal_status, run_idle, shell, steps


async def test_each_retry_waits_its_backoff_until_next_attempt_at(
    store: Store, settings: Settings
) -> None:
    settings.policy.tools["shell"] = "allow"
    settings.retry.base_delay = 0.2
    settings.retry.factor = 2.0
    settings.retry.max_delay = 0.5
    goal = add(store, {"title": "down", "steps": [shell("s", "exit 75")]}, max_attempts=4)
    await run_idle(store, settings)

    step = steps(store, goal)["s"]
    assert step["status"] == "failed" and step["attempt"] == 4
    assert step["next_attempt_at"] is None
    assert goal_status(store, goal) == "failed"
    waits = [e for e in store.events_after(0) if e.kind == "step.retry_wait"]
    assert len(waits) == 3
    starts = [
        r["started_at"]
        for r in store.all(
            "SELECT started_at FROM actions WHERE step_id = ? ORDER BY id", (step["id"],)
        )
    ]
    assert len(starts) == 4
    # 0.2 s, doubled to 0.4 s, then capped at 0.5 s; each with jitter between half and all.
    for event, nominal, next_start in zip(waits, (0.2, 0.4, 0.5), starts[1:], strict=True):
        delay = event.data["next_attempt_at"] - event.ts
        assert nominal / 2 - 1e-6 <= delay <= nominal + 1e-6, (nominal, delay)
        assert f"will retry in {delay:.1f} s" in event.message
        assert next_start >= event.data["next_attempt_at"]  # never retried early
