"""Crash recovery by lease expiry, decided through the approvals queue; schedules and coalescing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.goals import add_schedule, next_fire
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.schedules import run_due_schedules
from agent_tui.core.store import Store, runs
from tests.helpers import (
    add,
    echo,
    goal_status,
    pending_approvals,
    run_idle,
    shell,
    steps,
    workspace_of,
)

LIMITS = runs.ClaimLimits(max_parallel=4, per_goal=4, lease_seconds=15)


def _claim_and_start(store: Store, owner: str = "dead-worker") -> dict:
    """Claim one step and start its action as a process would, then 'die' (expire the lease)."""
    with store.write() as tx:
        [step] = runs.claim(tx, owner, LIMITS, 1)
        action_id, move = runs.propose_action(
            tx,
            step,
            tool=step["tool"],
            args=json.loads(step["args"]),
            side_effects=step["tool"] == "shell",
            decision="allow",
            reason="test",
            preview=f"{step['tool']} preview",
            dry_run=False,
        )
        assert move == "run"
        runs.start_action(tx, action_id, owner)
        tx.execute("UPDATE steps SET lease_expires = ? WHERE id = ?", (tx.now - 1, step["id"]))
    return step


def _recover(store: Store) -> list[str]:
    with store.write() as tx:
        return runs.recover_expired(tx)


def test_expired_lease_without_action_is_ready_again(store: Store) -> None:
    goal = add(store, {"title": "g", "steps": [echo("a", "1")]})
    with store.write() as tx:
        runs.claim(tx, "dead", LIMITS, 1)
        tx.execute("UPDATE steps SET lease_expires = 0")
    [note] = _recover(store)
    assert "recovered" in note
    step = steps(store, goal)["a"]
    assert step["status"] == "ready" and step["lease_owner"] is None and step["attempt"] == 1


def test_a_step_taken_back_is_not_claimed_again_by_the_process_still_running_it(
    store: Store,
) -> None:
    """Both runs would hold the lease under one owner, and the first one's end (fenced) would
    decide the second's step: it waits until that run has ended, then it is taken as usual."""
    add(store, {"title": "g", "steps": [echo("a", "1")]})
    with store.write() as tx:
        [step] = runs.claim(tx, "me", LIMITS, 1)
        tx.execute("UPDATE steps SET lease_expires = 0")
    assert _recover(store)  # its lease ran out while this process was too busy to renew it
    with store.write() as tx:
        assert runs.claim(tx, "me", LIMITS, 1, busy=[step["id"]]) == []
    with store.write() as tx:
        [again] = runs.claim(tx, "me", LIMITS, 1)  # that run ended: taken again
    assert again["id"] == step["id"] and again["lease_owner"] == "me"


def test_read_only_action_in_flight_is_rerun(store: Store) -> None:
    goal = add(store, {"title": "g", "steps": [echo("a", "1")]})
    step = _claim_and_start(store)
    _recover(store)
    assert steps(store, goal)["a"]["status"] == "ready"
    action = store.one("SELECT * FROM actions WHERE step_id = ?", (step["id"],))
    assert action["status"] == "failed" and "interrupted" in action["error"]
    assert pending_approvals(store) == []


@pytest.mark.parametrize(
    ("choice", "step_status", "goal_after"),
    [
        ("run_again", "completed", "completed"),
        ("mark_done", "completed", "completed"),
        ("skip", "skipped", "completed"),
    ],
)
async def test_side_effecting_action_in_flight_asks(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    choice: str,
    step_status: str,
    goal_after: str,
) -> None:
    settings.policy.tools["shell"] = "allow"
    goal = add(
        store,
        {
            "title": "g",
            "steps": [shell("s", "touch ran"), echo("after", "done", depends_on=["s"])],
        },
    )
    canary = workspace_of(store, goal) / "ran"
    step = _claim_and_start(store)
    [note] = _recover(store)
    assert "approval" in note
    assert steps(store, goal)["s"]["status"] == "unknown"
    assert goal_status(store, goal) == "waiting"
    [approval] = pending_approvals(store)
    assert approval["kind"] == "unknown" and "shell preview" in approval["detail"]
    control.approve(store, approval["id"], choice=choice)
    await run_idle(store, settings)
    s = steps(store, goal)
    assert s["s"]["status"] == step_status
    assert s["after"]["status"] == "completed"
    assert goal_status(store, goal) == goal_after
    assert canary.exists() == (choice == "run_again")
    message = store.one("SELECT status_message FROM goals WHERE id = ?", (goal,))["status_message"]
    assert message == ("completed with 1 skipped step(s)" if choice == "skip" else None)
    first = store.one("SELECT * FROM actions WHERE step_id = ? ORDER BY id LIMIT 1", (step["id"],))
    assert first["status"] == ("succeeded" if choice == "mark_done" else "failed")


def test_completed_steps_are_never_replayed(store: Store) -> None:
    goal = add(store, {"title": "g", "steps": [echo("a", "1")]})
    with store.write() as tx:
        [step] = runs.claim(tx, "w", LIMITS, 1)
        runs.complete_step(tx, step, {"output": "1", "data": {}})
        tx.execute("UPDATE steps SET lease_expires = 0")
    assert _recover(store) == []
    assert steps(store, goal)["a"]["status"] == "completed"


def test_schedule_missed_runs_coalesce(store: Store) -> None:
    recipe = parse_recipe({"title": "nightly", "steps": [echo("a", "1")]})
    schedule_id, first = add_schedule(store, recipe, "*/5 * * * *")
    assert first > time.time()
    # The machine was off for a day: 288 runs were missed.
    with store.write() as tx:
        tx.execute("UPDATE schedules SET next_run_at = ?", (time.time() - 86400,))
    with store.write() as tx:
        started = run_due_schedules(tx)
    assert len(started) == 1
    row = store.one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
    assert row["last_goal_id"] == started[0] and row["next_run_at"] > time.time()
    with store.write() as tx:
        assert run_due_schedules(tx) == []
    goal = store.one("SELECT * FROM goals WHERE id = ?", (started[0],))
    assert goal["schedule_id"] == schedule_id and goal["title"] == "nightly"


async def test_scheduled_run_records_outcome_and_streak(store: Store, settings: Settings) -> None:
    recipe = parse_recipe(
        {
            "title": "failing",
            "steps": [{"id": "r", "tool": "read_file", "args": {"path": "missing.txt"}}],
        }
    )
    schedule_id, _ = add_schedule(store, recipe, "0 3 * * *")
    for expected_streak in (1, 2):
        with store.write() as tx:
            tx.execute("UPDATE schedules SET next_run_at = 0")
        await run_idle(store, settings)
        row = store.one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        assert row["last_status"] == "failed" and row["failure_streak"] == expected_streak


def test_next_fire_is_strictly_after() -> None:
    now = time.time()
    fire = next_fire("* * * * *", now)
    assert now < fire <= now + 61
    assert next_fire("* * * * *", fire) > fire
