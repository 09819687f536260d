"""A goal that stops (fails or is cancelled) withdraws its pending approvals; a retry asks again."""

from __future__ import annotations

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.store import Store
from agent_tui.core.store.views import goal_detail
from tests.helpers import add, goal_status, pending_approvals, run_idle, shell, steps


def _failing_and_asking(store: Store) -> int:
    return add(
        store,
        {
            "title": "One fails, one asks",
            "steps": [
                {"id": "missing", "tool": "read_file", "args": {"path": "missing.txt"}},
                shell("ask", "echo asked"),
            ],
        },
    )


def _assert_withdrawn(store: Store, goal_id: int, why: str) -> None:
    assert pending_approvals(store) == []
    [approval] = store.all("SELECT * FROM approvals WHERE goal_id = ?", (goal_id,))
    assert approval["status"] == "withdrawn" and approval["reason"] == why
    assert steps(store, goal_id)["ask"]["status"] == "cancelled"
    [action] = store.all("SELECT * FROM actions WHERE goal_id = ? AND tool = 'shell'", (goal_id,))
    assert action["status"] == "rejected" and action["error"] == f"approval withdrawn: {why}"
    history = [e["message"] for e in goal_detail(store, goal_id)["events"]]
    assert any(m.startswith(f"approval {approval['id']} withdrawn ({why})") for m in history)
    with pytest.raises(control.ControlError, match="already withdrawn"):
        control.approve(store, approval["id"])


async def test_a_failed_goal_withdraws_its_approvals_and_a_retry_asks_again(
    store: Store, settings: Settings
) -> None:
    goal_id = _failing_and_asking(store)
    await run_idle(store, settings)
    assert goal_status(store, goal_id) == "failed"
    _assert_withdrawn(store, goal_id, "goal failed")

    (store.path.parent / "workspaces" / str(goal_id) / "missing.txt").write_text("here now")
    assert control.retry(store, goal_id) == 2
    await run_idle(store, settings)
    [again] = pending_approvals(store)
    assert again["step_id"] == steps(store, goal_id)["ask"]["id"]
    control.approve(store, again["id"])
    await run_idle(store, settings)
    assert goal_status(store, goal_id) == "completed"


async def test_a_cancelled_goal_withdraws_its_approvals(store: Store, settings: Settings) -> None:
    goal_id = add(store, {"title": "asks", "steps": [shell("ask", "echo asked")]})
    await run_idle(store, settings)
    assert len(pending_approvals(store)) == 1
    control.cancel_goal(store, goal_id)
    assert pending_approvals(store) == []
    [approval] = store.all("SELECT * FROM approvals WHERE goal_id = ?", (goal_id,))
    assert approval["status"] == "withdrawn"
    control.retry(store, goal_id)
    await run_idle(store, settings)
    assert len(pending_approvals(store)) == 1


async def test_a_refused_budget_withdraws_the_other_approvals(
    store: Store, settings: Settings
) -> None:
    goal_id = add(store, {"title": "asks", "steps": [shell("ask", "echo asked")]})
    await run_idle(store, settings)
    with store.write() as tx:
        tx.insert(
            "approvals",
            {
                "kind": "budget",
                "goal_id": goal_id,
                "step_id": steps(store, goal_id)["ask"]["id"],
                "status": "pending",
                "title": "raise the budget",
                "detail": "max_usd 1 → 2",
                "choice": "max_usd",
                "created_at": tx.now,
            },
        )
    budget = next(a for a in pending_approvals(store) if a["kind"] == "budget")
    control.reject(store, budget["id"], reason="enough")
    assert goal_status(store, goal_id) == "failed"
    assert pending_approvals(store) == []
