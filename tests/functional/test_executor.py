"""The executor in-process against a real SQLite file and real subprocesses."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.executor import Executor
from agent_tui.core.store import Store
from tests.helpers import (
    add,
    alive,
    allow_shell,
    echo,
    goal_status,
    pending_approvals,
    run_idle,
    shell,
    steps,
    wait_for,
    workspace_of,
)


async def test_dependencies_templates_and_documents(store: Store, settings: Settings) -> None:
    goal = add(
        store,
        {
            "title": "chain",
            "steps": [
                echo("a", "alpha"),
                shell("b", "echo got-{{ steps.a.output }}", depends_on=["a"]),
                {
                    "id": "doc",
                    "tool": "write_document",
                    "depends_on": ["b"],
                    "args": {
                        "name": "Result",
                        "content": "# R\n{{ steps.b.output }} code {{ steps.b.result.exit_code }}",
                    },
                },
            ],
        },
    )
    await run_idle(store, allow_shell(settings))
    assert goal_status(store, goal) == "completed"
    s = steps(store, goal)
    assert s["b"]["result"]["output"] == "got-alpha"
    [doc] = store.all("SELECT * FROM artifacts WHERE goal_id = ?", (goal,))
    assert doc["content"] == "# R\ngot-alpha code 0" and doc["version"] == 1
    kinds = [e.kind for e in store.events_after(0)]
    for kind in (
        "goal.created",
        "goal.started",
        "step.started",
        "action.running",
        "action.succeeded",
        "step.completed",
        "artifact.saved",
        "goal.completed",
    ):
        assert kind in kinds


async def test_shell_asks_by_default_and_waiting_frees_the_slot(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings.executor.max_parallel = 1
    asks = add(store, {"title": "asks", "priority": 9, "steps": [shell("s", "touch canary")]})
    other = add(store, {"title": "other", "priority": 1, "steps": [echo("e", "x")]})
    canary = workspace_of(store, asks) / "canary"
    await run_idle(store, settings)
    # The high-priority goal waits for approval, and the one slot went on to the other goal.
    assert goal_status(store, asks) == "waiting"
    assert goal_status(store, other) == "completed"
    assert steps(store, asks)["s"]["status"] == "waiting_approval"
    assert not canary.exists()
    [approval] = pending_approvals(store)
    assert approval["detail"] == "$ touch canary"
    control.approve(store, approval["id"])
    await run_idle(store, settings)
    assert canary.exists()
    assert goal_status(store, asks) == "completed"
    assert steps(store, asks)["s"]["attempt"] == 1


async def test_rejected_action_never_runs(store: Store, settings: Settings, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    goal = add(store, {"title": "r", "steps": [shell("s", f"touch {canary}")]})
    await run_idle(store, settings)
    [approval] = pending_approvals(store)
    control.reject(store, approval["id"], reason="not today")
    await run_idle(store, settings)
    assert not canary.exists()
    assert goal_status(store, goal) == "failed"
    step = steps(store, goal)["s"]
    assert step["status"] == "failed" and "not today" in step["error"]
    action = store.one("SELECT * FROM actions WHERE step_id = ?", (step["id"],))
    assert action["status"] == "rejected" and action["started_at"] is None


async def test_hard_deny_wins_over_allow(store: Store, settings: Settings) -> None:
    goal = add(store, {"title": "d", "steps": [shell("s", "sudo rm -rf /tmp/nothing")]})
    await run_idle(store, allow_shell(settings))
    assert goal_status(store, goal) == "failed"
    action = store.one("SELECT * FROM actions")
    assert action["status"] == "denied" and "hard-deny" in action["decision_reason"]


async def test_dry_run_records_and_runs_nothing(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    goal = add(
        store,
        {
            "title": "dry",
            "dry_run": True,
            "steps": [
                shell("s", f"touch {canary}"),
                {"id": "w", "tool": "write_file", "args": {"path": "x.txt", "content": "x"}},
                echo("e", "{{ steps.s.output }}", depends_on=["s"]),
            ],
        },
    )
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"
    assert not canary.exists()
    workspace = Path(store.one("SELECT workspace FROM goals")["workspace"])
    assert not (workspace / "x.txt").exists()
    statuses = {a["tool"]: a["status"] for a in store.all("SELECT * FROM actions")}
    assert statuses == {"shell": "dry_run", "write_file": "dry_run", "echo": "succeeded"}
    assert "not executed" in steps(store, goal)["e"]["result"]["output"]
    assert pending_approvals(store) == []


async def test_independent_steps_overlap_within_limits(store: Store, settings: Settings) -> None:
    # Each step announces itself, then waits for the other two: they can only all complete if
    # they run at the same time (one at a time, the first would give up after 60 s and fail).
    barrier = (
        "touch s{i}; for n in $(seq 1200); do"
        " [ -f s0 ] && [ -f s1 ] && [ -f s2 ] && exit 0; sleep 0.05; done; exit 1"
    )
    goal = add(
        store,
        {"title": "par", "steps": [shell(f"s{i}", barrier.format(i=i)) for i in range(3)]},
    )
    await run_idle(store, allow_shell(settings), timeout=120)
    rows = list(steps(store, goal).values())
    assert [r["status"] for r in rows] == ["completed"] * 3
    assert max(r["started_at"] for r in rows) < min(r["finished_at"] for r in rows)


async def test_per_goal_limit_serialises(store: Store, settings: Settings) -> None:
    settings.executor.per_goal_parallel = 1
    goal = add(store, {"title": "one", "steps": [shell(f"s{i}", "sleep 0.1") for i in range(3)]})
    await run_idle(store, allow_shell(settings))
    rows = sorted(steps(store, goal).values(), key=lambda r: r["started_at"])
    for before, after in itertools.pairwise(rows):
        assert before["finished_at"] <= after["started_at"]


async def test_priority_orders_claims(store: Store, settings: Settings) -> None:
    settings.executor.max_parallel = 1
    low = add(store, {"title": "low", "priority": 2, "steps": [echo("e", "low")]})
    high = add(store, {"title": "high", "priority": 8, "steps": [echo("e", "high")]})
    await run_idle(store, settings)
    first = store.one("SELECT goal_id FROM actions ORDER BY id LIMIT 1")["goal_id"]
    assert first == high and goal_status(store, low) == "completed"


async def test_transient_failure_retries_then_succeeds(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    goal = add(
        store,
        {
            "title": "flaky",
            "steps": [shell("s", "if [ -f tried ]; then echo fine; else touch tried; exit 75; fi")],
        },
    )
    await run_idle(store, allow_shell(settings))
    assert goal_status(store, goal) == "completed"
    step = steps(store, goal)["s"]
    assert step["attempt"] == 2
    kinds = [e.kind for e in store.events_after(0)]
    assert "step.retry_wait" in kinds


async def test_transient_failure_gives_up_and_escalates(store: Store, settings: Settings) -> None:
    settings.retry.max_attempts = 3
    goal = add(store, {"title": "down", "steps": [shell("s", "exit 75")]})
    await run_idle(store, allow_shell(settings))
    step = steps(store, goal)["s"]
    assert step["status"] == "failed" and step["attempt"] == 3
    assert "gave up after 3 attempts" in step["error"]
    assert goal_status(store, goal) == "failed"
    assert any(e.kind == "step.escalated" for e in store.events_after(0))


async def test_tool_failure_is_not_retried(store: Store, settings: Settings) -> None:
    goal = add(
        store,
        {
            "title": "bad",
            "steps": [shell("s", "echo oops >&2; exit 3"), echo("after", "x", depends_on=["s"])],
        },
    )
    await run_idle(store, allow_shell(settings))
    s = steps(store, goal)
    assert s["s"]["attempt"] == 1 and s["s"]["status"] == "failed"
    assert "exit code 3" in s["s"]["error"] and "oops" in s["s"]["error"]
    assert s["after"]["status"] == "pending"
    goal_row = store.one("SELECT * FROM goals")
    assert goal_row["status"] == "failed" and "step 's' failed" in goal_row["status_message"]


async def test_cancel_kills_the_running_command(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    mark = f"60.{uuid.uuid4().int % 10**8}"
    goal = add(store, {"title": "long", "steps": [shell("s", f"sleep {mark}")]})
    executor = Executor(store, allow_shell(settings))
    await executor.start()
    try:
        await wait_for(lambda: alive(mark))
        control.cancel_goal(store, goal)
        executor.wake()
        await asyncio.wait_for(executor.run_until_idle(), 15)
    finally:
        await executor.stop()
    assert not alive(mark)
    assert goal_status(store, goal) == "cancelled"
    action = store.one("SELECT * FROM actions")
    assert action["status"] == "failed" and action["error"] == "cancelled"


async def test_pause_and_resume_goal(store: Store, settings: Settings) -> None:
    goal = add(store, {"title": "p", "steps": [echo("a", "1")]})
    control.pause_goal(store, goal)
    await run_idle(store, settings)
    assert goal_status(store, goal) == "paused"
    assert steps(store, goal)["a"]["status"] == "ready"
    control.resume_goal(store, goal)
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"


async def test_global_pause_stops_claims(store: Store, settings: Settings) -> None:
    control.set_global_pause(store, True)
    goal = add(store, {"title": "g", "steps": [echo("a", "1")]})
    await run_idle(store, settings)
    assert goal_status(store, goal) == "queued"
    control.set_global_pause(store, False)
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"


async def test_daily_execution_limit(store: Store, settings: Settings) -> None:
    settings.limits.daily_executions = 2
    goal = add(store, {"title": "lim", "steps": [echo(f"e{i}", str(i)) for i in range(4)]})
    await run_idle(store, settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "daily limit"
    assert "daily limit of 2" in row["status_message"]
    assert store.one("SELECT count(*) AS n FROM actions")["n"] == 2


async def test_retry_failed_goal(store: Store, settings: Settings, tmp_path: Path) -> None:
    goal = add(store, {"title": "again", "steps": [shell("s", "test -f ok")]})
    await run_idle(store, allow_shell(settings))
    assert goal_status(store, goal) == "failed"
    (workspace_of(store, goal) / "ok").touch()
    assert control.retry(store, goal) == 1
    await run_idle(store, allow_shell(settings))
    assert goal_status(store, goal) == "completed"


async def test_unknown_tool_in_db_fails_clearly(store: Store, settings: Settings) -> None:
    goal = add(store, {"title": "u", "steps": [echo("a", "1")]})
    with store.write() as tx:
        tx.execute("UPDATE steps SET tool = 'vanished'")
    await run_idle(store, settings)
    assert goal_status(store, goal) == "failed"
    assert "unknown tool 'vanished'" in steps(store, goal)["a"]["error"]


async def test_output_is_capped_in_db_and_whole_in_log(store: Store, settings: Settings) -> None:
    settings.limits.output_cap_bytes = 64 * 1024
    add(
        store,
        {"title": "big", "steps": [shell("s", "for i in $(seq 1 20000); do echo line-$i; done")]},
    )
    await run_idle(store, allow_shell(settings))
    action = store.one("SELECT * FROM actions")
    from agent_tui import paths
    from agent_tui.core.output import stored_output

    kept = stored_output(store, action["id"])
    assert len(kept.encode()) <= 64 * 1024
    assert kept.rstrip().endswith("line-20000")
    full = (paths.outputs_dir() / f"{action['id']}.log").read_text()
    assert full.startswith("line-1\n") and full.rstrip().endswith("line-20000")
    assert action["output_bytes"] == len(full.encode())


async def test_denied_by_a_rule_never_runs(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from agent_tui.core.rules import RuleSpec

    canary = tmp_path / "canary"
    settings.policy.tools["shell"] = "allow"
    settings.policy.rules = [RuleSpec.of("shell", "prefix", "touch", "deny")]
    goal = add(store, {"title": "deny", "steps": [shell("s", f"touch {canary}")]})
    await run_idle(store, settings)
    assert not canary.exists()
    assert goal_status(store, goal) == "failed"
    action = store.one("SELECT * FROM actions")
    assert action["status"] == "denied" and "touch" in action["decision_reason"]
    assert action["started_at"] is None
