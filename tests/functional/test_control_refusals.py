"""Control requests that do not fit the goal's state are refused with a readable message and
change nothing; the ones that fit do what they say. The real executor and a real SQLite file."""

from __future__ import annotations

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.control import ControlError, NoSuchId
from agent_tui.core.store import Store
from tests.helpers import add, echo, goal_status, pending_approvals, run_idle, shell, steps


def event_count(store: Store) -> int:
    return store.last_event_id()


async def test_a_finished_goal_is_not_paused_cancelled_or_retried(
    store: Store, settings: Settings
) -> None:
    goal = add(store, {"title": "done", "steps": [echo("a", "x")]})
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"
    before = event_count(store)

    with pytest.raises(ControlError, match=f"goal {goal} is completed; there is nothing to pause"):
        control.pause_goal(store, goal)
    with pytest.raises(ControlError, match=f"goal {goal} is already completed"):
        control.cancel_goal(store, goal)
    with pytest.raises(ControlError, match="completed; add it again to run it again"):
        control.retry(store, goal)
    with pytest.raises(ControlError, match=rf"goal {goal} is completed, not paused"):
        control.resume_goal(store, goal)

    assert event_count(store) == before
    assert goal_status(store, goal) == "completed"


def test_ids_that_do_not_exist_are_named(store: Store) -> None:
    for request in (
        lambda: control.pause_goal(store, 41),
        lambda: control.cancel_goal(store, 41),
        lambda: control.archive_goal(store, 41),
    ):
        with pytest.raises(NoSuchId, match=r"^no goal 41$"):
            request()
    for request in (
        lambda: control.approve(store, 7),
        lambda: control.reject(store, 7),
        lambda: control.always_allow_proposal(store, 7),
    ):
        with pytest.raises(NoSuchId, match=r"^no approval 7$"):
            request()


def test_a_paused_goal_is_not_paused_again_and_resumes_queued(store: Store) -> None:
    goal = add(store, {"title": "p", "steps": [echo("a", "x")]})
    assert control.pause_goal(store, goal) == 0  # no step of it runs

    with pytest.raises(ControlError, match=f"goal {goal} is already paused"):
        control.pause_goal(store, goal)
    control.resume_goal(store, goal)

    assert goal_status(store, goal) == "queued"  # it never started
    with pytest.raises(ControlError, match=f"goal {goal} is queued, not paused"):
        control.resume_goal(store, goal)


async def test_retry_one_step_by_key_or_say_why_not(store: Store, settings: Settings) -> None:
    settings.policy.tools["shell"] = "allow"
    goal = add(
        store,
        {
            "title": "fails once",
            "steps": [
                shell("a", "test -e again || { touch again; exit 3; }"),
                echo("c", "ok"),
            ],
        },
    )
    await run_idle(store, settings)
    assert goal_status(store, goal) == "failed"
    assert steps(store, goal)["c"]["status"] == "completed"

    with pytest.raises(ControlError, match=f"goal {goal}: step 'c' is not failed or cancelled"):
        control.retry(store, goal, "c")
    with pytest.raises(ControlError, match=f"goal {goal}: step 'nope' is not failed or cancelled"):
        control.retry(store, goal, "nope")
    assert control.retry(store, goal, "a") == 1
    assert steps(store, goal)["a"]["status"] == "ready"
    assert goal_status(store, goal) == "running"

    await run_idle(store, settings)
    assert steps(store, goal)["a"]["status"] == "completed"
    assert goal_status(store, goal) == "completed"


async def test_nothing_to_retry_is_said(store: Store, settings: Settings) -> None:
    goal = add(store, {"title": "waits", "steps": [shell("s", "echo hi")]})
    await run_idle(store, settings)  # the shell asks: nothing failed

    with pytest.raises(ControlError, match=f"goal {goal}: no step is not failed or cancelled"):
        control.retry(store, goal)


async def test_a_decided_approval_is_not_decided_again(store: Store, settings: Settings) -> None:
    goal = add(store, {"title": "asks", "steps": [shell("s", "echo hi")]})
    await run_idle(store, settings)
    [approval] = pending_approvals(store)
    control.reject(store, approval["id"], reason="not today")

    with pytest.raises(ControlError, match=f"approval {approval['id']} is already rejected"):
        control.approve(store, approval["id"])
    with pytest.raises(ControlError, match=f"approval {approval['id']} is already rejected"):
        control.reject(store, approval["id"])
    assert goal_status(store, goal) == "failed"
    assert "rejected: not today" in steps(store, goal)["s"]["error"]


async def test_archive_only_finished_goals_once(store: Store, settings: Settings) -> None:
    done = add(store, {"title": "done", "steps": [echo("a", "x")]})
    await run_idle(store, settings)
    waiting = add(store, {"title": "waiting", "steps": [echo("a", "x")]})

    with pytest.raises(ControlError, match=f"goal {waiting} is queued; only finished goals"):
        control.archive_goal(store, waiting)
    control.archive_goal(store, done)
    with pytest.raises(ControlError, match=f"goal {done} is already archived"):
        control.archive_goal(store, done)

    archived = {r["id"]: r["archived"] for r in store.all("SELECT id, archived FROM goals")}
    assert archived == {done: 1, waiting: 0}
    kinds = [e.kind for e in store.events_after(0) if e.goal_id == done]
    assert kinds.count("goal.archived") == 1


async def test_global_dry_run_records_and_does_not_run(store: Store, settings: Settings) -> None:
    settings.policy.tools["shell"] = "allow"
    control.set_global_dry_run(store, True)
    goal = add(store, {"title": "dry", "steps": [shell("s", "touch made")]})

    await run_idle(store, settings)

    assert store.setting("dry_run") is True
    step = steps(store, goal)["s"]
    assert step["status"] == "completed" and step["result"]["data"]["dry_run"] is True
    action = store.one("SELECT status FROM actions WHERE step_id = ?", (step["id"],))
    assert action["status"] == "dry_run"
    [said] = [e.message for e in store.events_after(0) if e.kind == "settings.dry_run"]
    assert said == "dry run on for all goals"


async def test_retrying_one_of_two_failed_steps_says_the_goal_would_stay_failed(
    store: Store, settings: Settings
) -> None:
    """Retrying step 'a' alone while 'b' failed too would leave 'a' ready in a failed goal that
    no executor takes: a silent stop. It is refused, naming 'b' and what to do instead."""
    settings.policy.tools["shell"] = "allow"
    goal = add(store, {"title": "two fail", "steps": [shell("a", "exit 3"), shell("b", "exit 4")]})
    await run_idle(store, settings)
    assert {k: s["status"] for k, s in steps(store, goal).items()} == {
        "a": "failed",
        "b": "failed",
    }

    with pytest.raises(ControlError, match=rf"step 'b' failed too.*agent-tui retry {goal}"):
        control.retry(store, goal, "a")
    assert steps(store, goal)["a"]["status"] == "failed"  # nothing changed

    assert control.retry(store, goal) == 2  # the whole goal: both run again
    assert goal_status(store, goal) in ("running", "queued")
