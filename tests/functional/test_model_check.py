"""Checking a model for real (``doctor`` and the welcome): the scripted model server answers,
lists its models, cuts a reply short, or is not there at all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_tui.core import llm, model_probe
from tests.fake_llm import FakeLLM, Reply, text


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as server:
        yield server


def choice_of(fake: FakeLLM) -> llm.ModelChoice:
    return llm.ModelChoice("openai/test-model", "test", fake.api_base)


async def test_a_model_that_answers_is_ready_and_its_server_lists_models(fake: FakeLLM) -> None:
    fake.models = ["test-model", "other-model"]
    fake.script(text("  ready\n"))

    probe = await model_probe.check(choice_of(fake))

    assert probe.ok, probe.detail
    assert probe.detail == f"openai/test-model at {fake.api_base} answered “ready”"
    assert probe.models == ["test-model", "other-model"]
    [request] = fake.requests
    assert request["max_tokens"] == 16
    assert request["messages"] == [{"role": "user", "content": "Reply with the single word: ready"}]


async def test_no_model_says_how_to_configure_one() -> None:
    probe = await model_probe.check(llm.ModelChoice(None, "no model is configured"))

    assert not probe.ok
    assert probe.detail == "no model is configured" and probe.fix == llm.HOW_TO_CONFIGURE


async def test_a_server_that_is_down_is_named_with_the_fix(fake: FakeLLM) -> None:
    fake.down()

    probe = await model_probe.check(choice_of(fake))
    reach = await model_probe.reachable(fake.api_base, timeout=5)

    assert not probe.ok
    assert probe.detail.startswith(f"no answer from {fake.api_base}: ConnectError")
    assert probe.fix.startswith(f"start the model server at {fake.api_base}")
    assert not reach.ok and reach.detail.startswith(f"no answer from {fake.api_base}")
    assert fake.requests == []


async def test_a_reply_cut_short_points_at_the_server(fake: FakeLLM) -> None:
    fake.script(*[Reply(content="rea", no_finish=True)] * 5)

    probe = await model_probe.check(choice_of(fake))

    assert not probe.ok
    assert probe.fix.startswith("the server ended the reply without finishing it")
    assert probe.models == ["test-model"]


async def test_an_error_answer_carries_its_own_fix(fake: FakeLLM) -> None:
    fake.script(*[Reply(status=401, error="invalid api key")] * 5)

    probe = await model_probe.check(choice_of(fake))

    assert not probe.ok and "invalid api key" in probe.detail
    assert "the API key was refused" in probe.fix
    assert len(fake.requests) == 1  # a refused key is not tried again


async def test_reachable_counts_any_answer(fake: FakeLLM) -> None:
    hosted = await model_probe.reachable(None)
    local = await model_probe.reachable(fake.api_base)

    assert hosted.ok and hosted.detail == "a hosted provider: the next call checks it"
    assert local.ok and local.detail == f"{fake.api_base} answered (HTTP 200)"
