"""Stopping the executor in-process: the grace period, a forced stop, a second stop, and what the
steps still running become. Real commands in the sandbox, a real SQLite file, and the scripted
model server for a model call in flight."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from agent_tui.config import Settings
from agent_tui.core.events import OutputChunk
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Event, Store
from tests.fake_llm import FakeLLM, text
from tests.helpers import (
    HANG,
    add,
    alive,
    allow_shell,
    goal_status,
    pending_approvals,
    run_idle,
    shell,
    steps,
    wait_for,
    workspace_of,
)


def stop_events(store: Store) -> int:
    row = store.one("SELECT count(*) AS n FROM events WHERE kind = 'executor.stopped'")
    return int(row["n"])


async def started_sleeper(store: Store, settings: Settings) -> tuple[Executor, int, str]:
    """An executor running a shell step that sleeps far longer than any test waits."""
    mark = f"100.{uuid.uuid4().int % 10**8}"
    goal = add(store, {"title": "long", "steps": [shell("s", f"sleep {mark}")]})
    executor = Executor(store, allow_shell(settings))
    await executor.start()
    await wait_for(lambda: alive(mark), HANG)
    return executor, goal, mark


def assert_asked_about(store: Store, goal: int) -> None:
    """The interrupted side-effecting step waits for a person: run again, mark done or skip."""
    step = steps(store, goal)["s"]
    assert step["status"] == "unknown"
    [approval] = pending_approvals(store)
    assert approval["kind"] == "unknown" and approval["step_id"] == step["id"]
    action = store.one("SELECT * FROM actions WHERE step_id = ?", (step["id"],))
    assert action["status"] == "unknown"


async def test_a_command_past_the_grace_is_stopped_and_asked_about(
    store: Store, settings: Settings
) -> None:
    executor, goal, mark = await started_sleeper(store, settings)

    await executor.stop(grace=0.2)

    assert not alive(mark)
    assert_asked_about(store, goal)
    assert store.one("SELECT * FROM workers WHERE id = ?", (executor.owner,)) is None


async def test_the_force_event_interrupts_a_stop_that_would_wait_forever(
    store: Store, settings: Settings
) -> None:
    executor, goal, mark = await started_sleeper(store, settings)
    force = asyncio.Event()

    stopping = asyncio.create_task(executor.stop(grace=None, force=force))
    await asyncio.sleep(0.3)
    assert not stopping.done()  # no grace limit: it waits for the command
    assert alive(mark)
    force.set()
    await asyncio.wait_for(stopping, HANG)

    assert not alive(mark)
    assert_asked_about(store, goal)


async def test_a_step_that_ends_within_the_grace_completes(
    store: Store, settings: Settings
) -> None:
    goal = add(
        store,
        {
            "title": "finishes",
            "steps": [shell("s", "while [ ! -e go ]; do sleep 0.05; done; echo finished")],
        },
    )
    executor = Executor(store, allow_shell(settings))
    await executor.start()
    await wait_for(lambda: store.one("SELECT 1 FROM actions WHERE status = 'running'") is not None)

    stopping = asyncio.create_task(executor.stop(grace=HANG))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # the stop waits for the running step
    (workspace_of(store, goal) / "go").touch()
    await asyncio.wait_for(stopping, HANG)

    step = steps(store, goal)["s"]
    assert step["status"] == "completed" and step["result"]["output"] == "finished"
    assert goal_status(store, goal) == "completed"
    assert pending_approvals(store) == []


async def test_a_second_stop_does_nothing(store: Store, settings: Settings) -> None:
    executor = Executor(store, settings)
    await executor.start()
    await executor.stop()
    await executor.stop()

    assert stop_events(store) == 1
    assert store.one("SELECT * FROM workers WHERE id = ?", (executor.owner,)) is None


async def test_an_executor_that_never_started_stops_cleanly(
    store: Store, settings: Settings
) -> None:
    executor = Executor(store, settings)

    await executor.stop()

    assert stop_events(store) == 1
    assert store.all("SELECT * FROM workers") == []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as server:
        yield server


async def test_a_model_call_in_flight_is_cancelled_and_its_step_runs_again(
    store: Store, settings: Settings, fake: FakeLLM
) -> None:
    settings.model = "openai/test-model"
    settings.llm.api_base = fake.api_base
    settings.llm.timeout = HANG
    fake.script(text("this reply never arrives in time", delay=30))
    goal = add_text_goal(store, "write a haiku")
    executor = Executor(store, settings)
    await executor.start()
    await wait_for(lambda: len(fake.requests) == 1, HANG)

    await asyncio.wait_for(executor.stop(grace=0.1), HANG)

    [step] = steps(store, goal).values()
    assert step["kind"] == "plan" and step["status"] == "ready"
    assert goal_status(store, goal) not in ("failed", "cancelled")
    kinds = [e.kind for e in store.events_after(0) if e.goal_id == goal]
    assert "step.recovered" in kinds and "step.failed" not in kinds


class Broken:
    """A sink that fails at every call: a broken listener never stops the work."""

    def __init__(self) -> None:
        self.calls = 0

    def on_event(self, event: Event) -> None:
        self.calls += 1
        raise RuntimeError("the event sink is broken")

    def on_output(self, chunk: OutputChunk) -> None:
        self.calls += 1
        raise RuntimeError("the output sink is broken")


async def test_a_failing_sink_is_logged_and_the_work_goes_on(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    goal = add(store, {"title": "talks", "steps": [shell("s", "echo out")]})
    broken = Broken()

    await run_idle(store, allow_shell(settings), sinks=[broken])

    assert goal_status(store, goal) == "completed"
    assert steps(store, goal)["s"]["result"]["output"] == "out"
    assert broken.calls > 0
    logged = {r.getMessage() for r in caplog.records if r.name == "agent_tui.executor"}
    assert {"an event sink failed", "an output sink failed"} <= logged


async def test_a_goal_added_by_another_connection_is_run(store: Store, settings: Settings) -> None:
    executor = Executor(store, settings)
    await executor.start()
    try:
        await asyncio.wait_for(executor.run_until_idle(), HANG)
        other = store.reopen()
        try:
            goal = add(other, {"title": "from elsewhere", "steps": [shell("s", "echo hi")]})
        finally:
            other.close()
        await wait_for(lambda: goal_status(store, goal) != "queued", HANG)
        await asyncio.wait_for(executor.run_until_idle(), HANG)
    finally:
        await executor.stop()
    # the shell asks by default: the step waits for a person
    assert steps(store, goal)["s"]["status"] == "waiting_approval"
    [approval] = pending_approvals(store)
    assert approval["goal_id"] == goal
