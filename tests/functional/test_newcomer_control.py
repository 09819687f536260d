"""Control edges a newcomer hit: the try counter after a retry, "always allow" on a recipe's ask."""

from __future__ import annotations

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.store import Store
from tests.helpers import add, pending_approvals, run_idle, steps, workspace_of


async def test_a_retried_step_counts_its_tries_on(store: Store, settings: Settings) -> None:
    goal = add(
        store, {"title": "t", "steps": [{"id": "r", "tool": "read_file", "args": {"path": "x"}}]}
    )
    await run_idle(store, settings)
    first = steps(store, goal)["r"]
    assert (first["status"], first["attempt"]) == ("failed", 1)
    (workspace_of(store, goal) / "x").write_text("now here")
    control.retry(store, goal)
    await run_idle(store, settings)
    again = steps(store, goal)["r"]
    assert (again["status"], again["attempt"]) == ("completed", 2)
    assert again["max_attempts"] == first["max_attempts"] + 1  # a full set of tries again
    started = store.all(
        "SELECT message FROM events WHERE kind = 'step.started' AND goal_id = ? ORDER BY id",
        (goal,),
    )
    assert [e["message"] for e in started] == [
        "step 'r' started (attempt 1)",
        "step 'r' started (attempt 2)",
    ]


async def test_always_allow_is_not_offered_when_the_recipe_asks(
    store: Store, settings: Settings
) -> None:
    add(
        store,
        {
            "title": "asks by recipe",
            "steps": [
                {
                    "id": "w",
                    "tool": "write_file",
                    "args": {"path": "a.txt", "content": "x"},
                    "approval": "ask",
                }
            ],
        },
    )
    await run_idle(store, settings)
    [approval] = pending_approvals(store)
    with pytest.raises(control.ControlError, match='recipe step says approval = "ask"'):
        control.always_allow_proposal(store, approval["id"])
    assert store.all("SELECT * FROM rules") == []
