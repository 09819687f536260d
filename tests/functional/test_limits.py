"""Approval timeouts, per-tool daily limits and the model-call rate limit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_text_goal
from agent_tui.core.limits import parse_approval_timeout, parse_duration
from agent_tui.core.store import Store
from tests.fake_llm import FakeLLM, call, text
from tests.helpers import add, echo, goal_status, run_idle, shell, steps, wait_for


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("90", 90), ("45s", 45), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1.5m", 90)],
)
def test_durations(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "soon", "-5m", "0s", "3 days"])
def test_bad_durations(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_approval_timeout_forms() -> None:
    assert parse_approval_timeout("wait") is None
    assert parse_approval_timeout("deny after 30m") == 1800
    assert parse_approval_timeout("10s") == 10


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_timed_out_approval_is_a_denial(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    goal = add(
        store, {"title": "t", "approval_timeout": "1s", "steps": [shell("s", f"touch {canary}")]}
    )
    executor = Executor(store, settings)
    await executor.start(detect_model=False)
    try:
        await wait_for(
            lambda: (
                store.one("SELECT status FROM approvals") is not None
                and store.one("SELECT status FROM approvals")["status"] == "expired"
            ),
            timeout=10,
        )
        await asyncio.wait_for(executor.run_until_idle(), 10)
    finally:
        await executor.stop()
    approval = store.one("SELECT * FROM approvals")
    assert approval["reason"] == "timed out" and approval["decided_by"] == "timeout"
    assert not canary.exists()
    step = steps(store, goal)["s"]
    assert step["status"] == "failed" and "timed out" in step["error"]
    action = store.one("SELECT status FROM actions")
    assert action["status"] == "rejected"


async def test_scheduled_runs_default_to_deny_after_30_minutes(
    store: Store, settings: Settings
) -> None:
    from agent_tui.core.goals import add_schedule
    from agent_tui.core.recipes import parse_recipe
    from agent_tui.core.schedules import run_due_schedules

    add_schedule(store, parse_recipe({"title": "s", "steps": [shell("s", "true")]}), "0 3 * * *")
    with store.write() as tx:
        tx.execute("UPDATE schedules SET next_run_at = 0")
    with store.write() as tx:
        [goal] = run_due_schedules(tx)
    await run_idle(store, settings)
    approval = store.one("SELECT * FROM approvals WHERE goal_id = ?", (goal,))
    assert approval["expires_at"] == pytest.approx(approval["created_at"] + 1800)


async def test_tool_daily_limit_waits_for_the_next_day(home: Path, settings: Settings) -> None:
    clock = Clock()
    store = Store(home / "clocked.db", clock=clock)
    settings.limits.tools = {"echo": 2}
    goal = add(store, {"title": "lim", "steps": [echo(f"e{i}", str(i)) for i in range(3)]})
    await run_idle(store, settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "rate limit"
    assert "echo ran 2 times today (limit 2)" in row["status_message"]
    assert row["resume_at"] > clock.now
    clock.now = row["resume_at"] + 1  # the next day
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"


async def test_the_daily_execution_limit_resumes_the_next_day(
    home: Path, settings: Settings
) -> None:
    clock = Clock()
    store = Store(home / "clocked.db", clock=clock)
    settings.limits.daily_executions = 2
    goal = add(store, {"title": "lim", "steps": [echo(f"e{i}", str(i)) for i in range(4)]})
    await run_idle(store, settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "daily limit"
    assert row["resume_at"] > clock.now
    assert store.one("SELECT count(*) AS n FROM actions")["n"] == 2
    clock.now = row["resume_at"] + 1  # the next day: two more run
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"
    assert store.one("SELECT count(*) AS n FROM actions")["n"] == 4
    store.close()


async def test_model_calls_per_minute(
    home: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    clock = Clock()
    store = Store(home / "clocked.db", clock=clock)
    with FakeLLM() as fake:
        settings.model = "openai/test"
        settings.llm.api_base = fake.api_base
        settings.limits.model_calls_per_minute = 2
        fake.script(
            text(json.dumps({"steps": [{"id": "a", "title": "A", "instructions": "x"}]})),
            call("echo", {"text": "one"}),
            call("finish_step", {"summary": "ok"}),
        )
        goal = add_text_goal(store, "three calls")
        await run_idle(store, settings)
        row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
        assert row["status"] == "waiting" and row["wait_reason"] == "rate limit"
        assert "2 model calls in the last minute (limit 2)" in row["status_message"]
        assert len(fake.requests) == 2
        clock.now += 61
        await run_idle(store, settings)
        assert goal_status(store, goal) == "completed"
        assert len(fake.requests) == 3


async def test_tool_limit_starts_no_step_it_would_give_back(home: Path, settings: Settings) -> None:
    from agent_tui.core.store.views import goal_detail, list_goals

    clock = Clock()
    store = Store(home / "clocked.db", clock=clock)
    settings.limits.tools = {"echo": 1}
    goal = add(store, {"title": "lim", "steps": [echo(f"e{i}", str(i)) for i in range(3)]})
    await run_idle(store, settings)
    await run_idle(store, settings)  # a second executor holds nothing twice
    by_key = steps(store, goal)
    assert [s["status"] for s in by_key.values()] == ["completed", "ready", "ready"]
    for key in ("e1", "e2"):  # never started, so no duration runs on
        assert by_key[key]["started_at"] is None and by_key[key]["attempt"] == 0
    assert store.one("SELECT count(*) AS n FROM actions")["n"] == 1
    started = [e for e in store.events_after(0) if e.kind == "step.started"]
    assert len(started) == 1
    waiting = [e for e in store.events_after(0) if e.kind == "goal.waiting"]
    assert len(waiting) == 1
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    day = time.strftime("%Y-%m-%d", time.localtime(row["resume_at"]))
    assert f"resumes at {day} 00:00:01" in row["status_message"]
    [listed] = list_goals(store)
    assert listed["resume_at"] == row["resume_at"]
    assert goal_detail(store, goal)["goal"]["resume_at"] == row["resume_at"]
    clock.now = row["resume_at"] + 1
    await run_idle(store, settings)
    assert [s["status"] for s in steps(store, goal).values()] == ["completed", "completed", "ready"]
    clock.now += 86400
    await run_idle(store, settings)
    assert goal_status(store, goal) == "completed"


async def test_a_tool_limit_holds_back_only_that_tool(home: Path, settings: Settings) -> None:
    clock = Clock()
    store = Store(home / "clocked.db", clock=clock)
    settings.limits.tools = {"echo": 1}
    settings.policy.tools["shell"] = "allow"
    goal = add(
        store,
        {
            "title": "mixed",
            "steps": [echo("e0", "0"), shell("s", "echo unlimited"), echo("e1", "1")],
        },
    )
    await run_idle(store, settings)
    by_key = steps(store, goal)
    assert by_key["e0"]["status"] == "completed"
    assert by_key["s"]["status"] == "completed"  # shell has no limit: never held
    assert by_key["e1"]["status"] == "ready" and by_key["e1"]["attempt"] == 0
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "rate limit"
    store.close()
