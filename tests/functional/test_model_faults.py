"""Real model servers' faults, through litellm's real HTTP path against the scripted server.

Empty and cut replies are never answers, a local server is never asked to interrupt itself,
overflowing conversations are compacted, transient faults cost a step nothing, and an outage makes
the goal wait and resume by itself, never fail or replan.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from agent_tui.config import Settings
from agent_tui.core import control, llm
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Store
from tests.fake_llm import FakeLLM, Reply, call, text
from tests.helpers import goal_status, run_idle, wait_for, workspace_of


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as server:
        yield server


@pytest.fixture
def llm_settings(settings: Settings, fake: FakeLLM) -> Settings:
    settings.model = "openai/test-model"
    settings.llm.api_base = fake.api_base
    settings.llm.timeout = 5
    return settings


def plan(*keys: str, tools: list[str] | None = None, **kw: Any) -> Reply:
    steps = [
        {
            "id": key,
            "title": f"Do {key}",
            "instructions": f"instructions for {key}",
            "tools": tools or ["write_file", "read_file", "list_files"],
        }
        for key in keys
    ]
    return text(json.dumps({"steps": steps}), **kw)


def finish(summary: str = "done", **kw: Any) -> Reply:
    return call("finish_step", {"summary": summary}, **kw)


def assistant_messages(store: Store) -> list[dict[str, Any]]:
    rows = store.all("SELECT content FROM messages WHERE role = 'assistant' ORDER BY id")
    return [json.loads(r["content"]) for r in rows]


def retries(store: Store) -> list[str]:
    return [e.message for e in store.events_after(0) if e.kind == "llm.retry"]


def assert_no_empty_reply_stored_or_sent(store: Store, fake: FakeLLM) -> None:
    for message in assistant_messages(store):
        assert (message.get("content") or "").strip() or message.get("tool_calls"), message
    for request in fake.requests:
        for message in request["messages"]:
            if message["role"] == "assistant":
                assert message.get("content") or message.get("tool_calls"), message


async def test_empty_stream_is_retried_not_taken_for_a_reply(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(text(""), plan("a"), text(""), text("   "), finish("done"))
    goal = add_text_goal(store, "survive empty replies")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert sum("the model's reply was empty" in m for m in retries(store)) == 3
    assert_no_empty_reply_stored_or_sent(store, fake)
    turns = store.all("SELECT count(*) AS n FROM usage WHERE goal_id = ?", (goal,))
    assert turns[0]["n"] == 2  # only the two real replies count as turns


async def test_stream_ended_before_any_finish_reason_is_retried(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(
        Reply(content='{"steps": [', no_finish=True),
        plan("a"),
        Reply(tool_calls=[("write_file", {"path": "x.txt", "content": "x"})], no_finish=True),
        finish("nothing written by a cut call"),
    )
    goal = add_text_goal(store, "survive cut replies")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert sum("without a finish reason" in m for m in retries(store)) == 2
    # The cut tool call never ran, and the cut text was never stored as the model's answer.
    assert not (workspace_of(store, goal) / "x.txt").exists()
    assert store.one("SELECT count(*) AS n FROM actions")["n"] == 0
    assert all(m.get("content") != '{"steps": [' for m in assistant_messages(store))


async def test_a_local_server_is_never_asked_to_interrupt_itself(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.interrupting = True  # as llama.cpp with its defaults: a new request cuts the running one
    slow = {"chunk_delay": 0.05}
    fake.script(plan("a", "b", "c", "d"), *(finish("done", **slow) for _ in range(4)))
    goal = add_text_goal(store, "four steps at once")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert retries(store) == []
    assert fake.most_active == 1
    assert store.one("SELECT count(*) AS n FROM steps WHERE status = 'completed'")["n"] == 5


async def test_max_concurrent_lets_that_many_calls_run_at_once(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    """``[llm] max_concurrent = 2`` for a local server: two streams at once, never three."""
    llm_settings.llm.max_concurrent = 2
    fake.meet = 2  # each stream waits for a second one: two at once is shown, not hoped for
    slow = {"chunk_delay": 0.1}
    fake.script(plan("a", "b", "c", "d"), *(finish("done", **slow) for _ in range(4)))
    goal = add_text_goal(store, "four steps, two calls at a time")
    await run_idle(store, llm_settings, timeout=60)
    assert goal_status(store, goal) == "completed"
    assert fake.most_active == 2


async def test_an_interrupted_stream_is_an_incomplete_reply(fake: FakeLLM) -> None:
    """What llama.cpp does to the running request when a second arrives, seen through litellm."""
    fake.interrupting = True
    fake.script(text("one two three four five six", chunk_delay=0.2), text("second"))
    choice = llm.ModelChoice("openai/test-model", "test", fake.api_base)
    ask = [{"role": "user", "content": "hi"}]
    first = asyncio.create_task(llm.complete(choice, ask))
    await wait_for(lambda: bool(fake._active))
    second = await llm.complete(choice, ask)
    assert second.content == "second"
    with pytest.raises(llm.IncompleteReply, match="without a finish reason") as caught:
        await first
    assert caught.value.transient and "one two three four five six".startswith(caught.value.partial)


def _big_file_goal(store: Store) -> int:
    goal = add_text_goal(store, "read a big file")
    workspace = workspace_of(store, goal)
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "big.txt").write_text("lorem ipsum dolor sit amet " * 500)
    return goal


def _reads_then_finishes() -> tuple[Reply, ...]:
    return (
        plan("a"),
        call("read_file", {"path": "big.txt"}),
        call("list_files", {}),
        call("list_files", {}),
        finish("read it"),
    )


async def test_context_overflow_error_compacts_the_conversation(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.context_limit = 3000  # tokens; the file alone is about 3,500
    fake.script(*_reads_then_finishes())
    goal = _big_file_goal(store)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed", store.one("SELECT * FROM goals")
    refused = [r for r in fake.requests if len(json.dumps(r["messages"])) // 4 > 3000]
    assert len(refused) == 1  # the window is learnt from the refusal: later calls fit at once
    notes = [e.message for e in store.events_after(0) if e.kind == "llm.note"]
    assert notes and "context compacted" in notes[0]
    last = fake.requests[-1]["messages"]
    [cut] = [m for m in last if m["role"] == "tool" and "were cut to fit" in m["content"]]
    assert "lorem ipsum" in cut["content"]
    # The stored transcript keeps the whole output; only what was sent was compacted.
    stored = store.all("SELECT content FROM messages WHERE role = 'tool'")
    assert any(len(r["content"]) > 12000 for r in stored)


async def test_empty_answer_at_overflow_compacts_the_conversation(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.context_limit = 3000
    fake.overflow = "empty"  # as llama.cpp with a full window: an empty streamed answer
    fake.script(*_reads_then_finishes())
    goal = _big_file_goal(store)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert sum("reply was empty" in m for m in retries(store)) == 2
    assert_no_empty_reply_stored_or_sent(store, fake)


async def test_a_configured_window_compacts_before_sending(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.context_limit = 3000
    fake.overflow = "empty"
    llm_settings.llm.context_window = 3000
    fake.script(*_reads_then_finishes())
    goal = _big_file_goal(store)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert retries(store) == []
    assert all(len(json.dumps(r["messages"])) // 4 <= 3000 for r in fake.requests)


async def test_three_transient_faults_on_three_turns_of_one_step(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(
        plan("a"),
        Reply(status=503, error="loading model"),
        call("write_file", {"path": "one.txt", "content": "1"}),
        Reply(status=429, error="slow down", headers={"retry-after": "0.1"}),
        call("write_file", {"path": "two.txt", "content": "2"}),
        text("cut short", cut_after=2),
        finish("wrote two files"),
    )
    goal = add_text_goal(store, "write two files")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    workspace = workspace_of(store, goal)
    assert (workspace / "one.txt").read_text() == "1" and (workspace / "two.txt").read_text() == "2"
    step = store.one("SELECT * FROM steps WHERE key = 'a'")
    assert step["attempt"] == 1 and step["status"] == "completed"
    assert store.one("SELECT replans FROM goals WHERE id = ?", (goal,))["replans"] == 0
    assert len(retries(store)) == 3
    assert store.one("SELECT count(*) AS n FROM usage WHERE step_id = ?", (step["id"],))["n"] == 3


async def test_short_outage_is_ridden_out_by_call_retries(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(plan("a"), finish("done"))
    fake.down()
    goal = add_text_goal(store, "patience")
    executor = Executor(store, llm_settings)
    await executor.start(detect_model=False)
    try:
        await wait_for(lambda: len(retries(store)) >= 3, timeout=20)
        assert "no answer from " + fake.api_base in retries(store)[0]
        fake.up()
        await wait_for(lambda: goal_status(store, goal) == "completed", timeout=20)
    finally:
        await executor.stop()
    assert not [e for e in store.events_after(0) if e.kind == "goal.waiting"]
    assert store.one("SELECT attempt FROM steps WHERE key = '_plan'")["attempt"] == 1


async def test_server_down_the_goal_waits_then_completes_without_a_replan(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    llm_settings.llm.retry_window = 0.5
    fake.script(
        plan("a"),
        call("write_file", {"path": "before.txt", "content": "b"}, chunk_delay=0.2),
        finish("wrote before.txt"),
    )
    goal = add_text_goal(store, "outlive an outage")
    executor = Executor(store, llm_settings)
    await executor.start(detect_model=False)
    try:
        await wait_for(lambda: len(fake.requests) == 2)  # the step's first turn is streaming
        fake.down()  # it streams on; the next call finds no server
        await wait_for(lambda: goal_status(store, goal) == "waiting", timeout=20)
        row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
        assert row["wait_reason"] == "model unreachable"
        message = row["status_message"]
        assert fake.api_base in message and "APIConnectionError" in message
        assert "fix: start the model server at" in message and "next check at" in message
        # The server stays down across several timed checks; the goal keeps waiting.
        await wait_for(
            lambda: sum("still no answer" in e.message for e in store.events_after(0)) >= 2,
            timeout=20,
        )
        assert goal_status(store, goal) == "waiting"
        fake.up()
        await wait_for(lambda: goal_status(store, goal) == "completed", timeout=30)
    finally:
        await executor.stop()
    assert (workspace_of(store, goal) / "before.txt").read_text() == "b"
    row = store.one("SELECT replans, plan_version FROM goals WHERE id = ?", (goal,))
    assert row["replans"] == 0 and row["plan_version"] == 1
    assert store.one("SELECT attempt FROM steps WHERE key = 'a'")["attempt"] == 1
    resumed = [e.message for e in store.events_after(0) if e.kind == "goal.resumed"]
    assert any("the model answers again" in m for m in resumed)


async def test_plan_repairs_never_exceed_two_across_a_wait(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    bad = text(json.dumps({"steps": [{"id": "a", "title": "A", "depends_on": ["nowhere"]}]}))
    fake.script(bad, bad, Reply(status=401, error="invalid api key"))
    goal = add_text_goal(store, "a plan that never validates")
    await run_idle(store, llm_settings)
    assert (
        store.one("SELECT wait_reason FROM goals WHERE id = ?", (goal,))["wait_reason"] == "model"
    )
    fake.script(bad, bad, bad)
    control.resume_goal(store, goal)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "failed"
    assert len(fake.requests) == 4  # three plans and the refused call: two repairs, no more
    assert len(fake.requests[-1]["messages"]) == 6


async def test_retry_starts_the_plan_afresh(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    bad = text("no plan here")
    fake.script(bad, bad, bad)
    goal = add_text_goal(store, "plan badly, then well")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "failed"
    fake.script(plan("a"), finish("done"))
    control.retry(store, goal)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    sent = fake.requests[3]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "user"]
    assert "retry this step" in sent[-1]["content"]


async def test_retried_agent_step_gets_its_turns_again(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    llm_settings.llm.step_iterations = 2
    llm_settings.llm.max_replans = 0
    fake.script(plan("a"), text("thinking"), text("still thinking"))
    goal = add_text_goal(store, "slow thinker")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "failed"
    fake.script(finish("done at last"))
    control.retry(store, goal)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert "retry this step" in fake.requests[-1]["messages"][-1]["content"]


async def test_usage_without_provider_figures_is_marked_estimated(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(plan("a", usage=False), finish("done"))
    goal = add_text_goal(store, "count")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    rows = store.all("SELECT * FROM usage WHERE goal_id = ? ORDER BY id", (goal,))
    assert [r["estimated"] for r in rows] == [1, 0]
    assert rows[1]["prompt_tokens"] == 100


def test_the_fake_counts_concurrent_streams() -> None:
    """The interruption the tests rely on is real: a second request cuts the first stream."""

    async def two_at_once(fake: FakeLLM) -> list[str]:
        import httpx

        async def ask() -> str:
            async with httpx.AsyncClient(timeout=5) as client:
                body = {"model": "m", "messages": [], "stream": True}
                reply = await client.post(fake.api_base + "/chat/completions", json=body)
                return reply.text

        first = asyncio.create_task(ask())
        while not fake._active:  # the first stream is running
            await asyncio.sleep(0.01)
        return [await ask(), await first]

    with FakeLLM() as fake:
        fake.interrupting = True
        fake.script(text("a b c d e f", chunk_delay=0.1), text("second"))
        second, first = asyncio.run(two_at_once(fake))
    assert '"finish_reason": "stop"' in second
    assert '"finish_reason": "stop"' not in first and "[DONE]" in first


async def test_cancelling_a_goal_while_its_model_call_waits_to_retry_stops_the_wait(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(Reply(status=503, error="busy", headers={"Retry-After": "50"}))
    goal = add_text_goal(store, "write a haiku")
    executor = Executor(store, llm_settings)
    await executor.start()
    try:
        await wait_for(lambda: any(e.kind == "llm.retry" for e in store.events_after(0)), 60)
        control.cancel_goal(store, goal)
        await asyncio.wait_for(executor.run_until_idle(), 45)  # well before the retry
    finally:
        await executor.stop()

    assert goal_status(store, goal) == "cancelled"
    [step] = store.all("SELECT status FROM steps WHERE goal_id = ?", (goal,))
    assert step["status"] == "cancelled"
    assert len(fake.requests) == 1  # the model was not called again
    assert executor.errors == 0
