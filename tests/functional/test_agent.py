"""The agent through litellm's real network path against a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.events import OutputChunk
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Event, Store
from tests.fake_llm import FakeLLM, Reply, call, text
from tests.helpers import goal_status, pending_approvals, run_idle, workspace_of


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


def plan(*steps: dict[str, Any]) -> Reply:
    return text(json.dumps({"steps": list(steps)}))


def step(id_: str, *deps: str, tools: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": id_,
        "title": f"Do {id_}",
        "instructions": f"instructions for {id_}",
        "depends_on": list(deps),
        "tools": tools or ["write_file", "read_file"],
    }


def finish(summary: str) -> Reply:
    return call("finish_step", {"summary": summary})


class Recorder:
    """A sink that keeps what the executor reports."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.chunks: list[OutputChunk] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def on_output(self, chunk: OutputChunk) -> None:
        self.chunks.append(chunk)


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


async def test_plan_execute_and_report(store: Store, llm_settings: Settings, fake: FakeLLM) -> None:
    fake.script(
        plan(step("write"), step("check", "write")),
        call("write_file", {"path": "notes/hello.txt", "content": "hello world\n"}),
        finish("wrote notes/hello.txt"),
        call("read_file", {"path": "notes/hello.txt"}),
        text(
            "Let me think about it.",
        ),
        finish("the file says hello world"),
    )
    goal = add_text_goal(store, "write a greeting file and check it")
    recorder = Recorder()
    await run_idle(store, llm_settings, sinks=[recorder])
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "completed", row["status_message"]
    workspace = Path(row["workspace"])
    assert (workspace / "notes/hello.txt").read_text() == "hello world\n"
    steps = {s["key"]: s for s in store.all("SELECT * FROM steps WHERE goal_id = ?", (goal,))}
    assert steps["_plan"]["kind"] == "plan" and steps["_plan"]["status"] == "completed"
    assert json.loads(steps["check"]["result"])["output"] == "the file says hello world"
    # The model saw the real tool result, and was nudged after a reply without a tool call.
    read_reply = tool_messages(fake.requests[4])[-1]
    assert "hello world" in json.loads(read_reply["content"])["output"]
    assert "You did not call a tool" in fake.requests[5]["messages"][-1]["content"]
    [report] = store.all(
        "SELECT * FROM artifacts WHERE goal_id = ? AND name = 'Final report'", (goal,)
    )
    assert "wrote notes/hello.txt" in report["content"]
    assert str(workspace / "notes/hello.txt") in report["content"]
    assert "6 model call(s)" in report["content"]
    usage = store.all("SELECT * FROM usage WHERE goal_id = ?", (goal,))
    assert len(usage) == 6 and all(u["prompt_tokens"] == 100 for u in usage)
    assert all(u["cost"] is None for u in usage)  # an unknown model's cost is unknown, not 0
    streamed = "".join(c.text for c in recorder.chunks if c.stream == "model")
    assert "Let me think about it." in streamed
    assert fake.requests[1]["stream"] is True and fake.requests[1]["tools"]


async def test_invalid_plan_is_repaired(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(
        plan(step("a", "nowhere")),
        plan(step("a")),
        finish("done"),
    )
    goal = add_text_goal(store, "do a")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    repair = fake.requests[1]["messages"][-1]["content"]
    assert "depends on unknown step 'nowhere'" in repair


async def test_cyclic_plan_is_refused(store: Store, llm_settings: Settings, fake: FakeLLM) -> None:
    cyclic = plan(step("a", "b"), step("b", "a"))
    fake.script(cyclic, cyclic, cyclic)
    goal = add_text_goal(store, "loop forever")
    await run_idle(store, llm_settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "failed"
    assert (
        "dependency cycle" in row["status_message"] and "after 2 repairs" in row["status_message"]
    )
    assert len(fake.requests) == 3


async def test_failing_tool_call_is_corrected(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(
        plan(step("read")),
        call("read_file", {"path": "missing.txt"}),
        call("write_file", {"path": "missing.txt", "content": "now here"}),
        call("read_file", {"path": "missing.txt"}),
        finish("created and read the file"),
    )
    goal = add_text_goal(store, "read a file")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    error = json.loads(tool_messages(fake.requests[2])[-1]["content"])
    assert error["ok"] is False and "missing.txt" in error["error"]


async def test_rate_limit_then_success(store: Store, llm_settings: Settings, fake: FakeLLM) -> None:
    fake.script(
        Reply(status=429, error="slow down", headers={"retry-after": "0.3"}),
        plan(step("a")),
        finish("done"),
    )
    goal = add_text_goal(store, "patience")
    recorder = Recorder()
    await run_idle(store, llm_settings, sinks=[recorder])
    assert goal_status(store, goal) == "completed"
    [wait] = [e for e in recorder.events if e.kind == "llm.retry"]
    assert "RateLimitError" in wait.message and "retrying in 0.3 s" in wait.message
    assert fake.arrivals[1] - fake.arrivals[0] >= 0.3  # Retry-After honoured
    # The call was retried, not the step: no second attempt, no turn spent.
    assert store.one("SELECT attempt FROM steps WHERE key = '_plan'")["attempt"] == 1


async def test_permanent_model_error_waits_with_the_fix(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(Reply(status=401, error="invalid api key"))
    goal = add_text_goal(store, "anything")
    await run_idle(store, llm_settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "model"
    assert "AuthenticationError" in row["status_message"] and "key" in row["status_message"]
    fake.script(plan(step("a")), finish("done"))
    control.resume_goal(store, goal)
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"


async def test_budget_reached_raised_and_continued(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(
        plan(step("a")),
        call("write_file", {"path": "a.txt", "content": "a"}),
        finish("wrote a.txt"),
    )
    goal = add_text_goal(store, "small budget", budget={"max_iterations": 2})
    await run_idle(store, llm_settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "budget"
    assert "model turns budget is used up: 2 turns of 2 turns" in row["status_message"]
    [approval] = pending_approvals(store)
    assert approval["kind"] == "budget"
    assert control.approve(store, approval["id"]) == "model turns budget raised to 4"
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert len(fake.requests) == 3


async def test_goal_iterations_is_the_default_turn_budget(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    """``[llm] goal_iterations``: a goal with no budget of its own stops for a decision there."""
    llm_settings.llm.goal_iterations = 2
    fake.script(plan(step("a")), call("write_file", {"path": "a.txt", "content": "a"}))
    goal = add_text_goal(store, "no budget of its own")
    await run_idle(store, llm_settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "budget"
    assert "model turns budget is used up: 2 turns of 2 turns" in row["status_message"]
    assert len(fake.requests) == 2


async def test_budget_refused_stops_the_goal(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(plan(step("a")))
    goal = add_text_goal(store, "tiny", budget={"max_iterations": 1})
    await run_idle(store, llm_settings)
    [approval] = pending_approvals(store)
    control.reject(store, approval["id"], reason="too expensive")
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "failed" and "too expensive" in row["status_message"]


async def test_rejection_reason_reaches_the_model(
    store: Store, llm_settings: Settings, fake: FakeLLM, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    fake.script(
        plan(step("a", tools=["shell", "write_file"])),
        call("shell", {"command": f"touch {canary}"}),
    )
    goal = add_text_goal(store, "touch a file")
    await run_idle(store, llm_settings)
    [approval] = pending_approvals(store)
    assert approval["detail"] == f"$ touch {canary}"
    assert goal_status(store, goal) == "waiting"
    fake.script(finish("could not: the user wants no shell"))
    control.reject(store, approval["id"], reason="no shell today, write a file instead")
    await run_idle(store, llm_settings)
    assert not canary.exists()
    told = json.loads(tool_messages(fake.requests[2])[-1]["content"])
    assert told["ok"] is False and "no shell today, write a file instead" in told["error"]
    assert goal_status(store, goal) == "completed"


async def test_approval_resumes_without_repeating(
    store: Store, llm_settings: Settings, fake: FakeLLM, tmp_path: Path
) -> None:
    fake.script(
        plan(step("a", tools=["shell"])),
        call("shell", {"command": "echo ran >> log"}),
    )
    goal = add_text_goal(store, "append once")
    log = workspace_of(store, goal) / "log"
    await run_idle(store, llm_settings)
    [approval] = pending_approvals(store)
    control.approve(store, approval["id"])
    fake.script(finish("appended"))
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert log.read_text() == "ran\n"
    result = json.loads(tool_messages(fake.requests[2])[-1]["content"])
    assert result["ok"] is True and result["exit_code"] == 0


async def test_denied_and_dry_run_calls_are_told_plainly(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    llm_settings.policy.tools["shell"] = "allow"
    fake.script(
        plan(step("a", tools=["shell", "write_file"])),
        call("shell", {"command": "sudo reboot"}),
        call("write_file", {"path": "x.txt", "content": "x"}),
        finish("tried"),
    )
    goal = add_text_goal(store, "be risky", dry_run=True)
    await run_idle(store, llm_settings)
    denied = json.loads(tool_messages(fake.requests[2])[-1]["content"])
    assert denied["ok"] is False and "denied by policy" in denied["error"]
    dry = json.loads(tool_messages(fake.requests[3])[-1]["content"])
    assert dry["dry_run"] is True and "NOT executed" in dry["output"]
    workspace = Path(store.one("SELECT workspace FROM goals WHERE id = ?", (goal,))["workspace"])
    assert not (workspace / "x.txt").exists()


async def test_failed_step_triggers_a_replan(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    fake.script(
        plan(step("first"), step("then", "first")),
        call("fail_step", {"reason": "the data source is gone"}),
        plan(step("second")),
        finish("did it another way"),
    )
    goal = add_text_goal(store, "try twice")
    await run_idle(store, llm_settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "completed" and row["plan_version"] == 2 and row["replans"] == 1
    versions = store.all(
        "SELECT version, reason FROM plans WHERE goal_id = ? ORDER BY version", (goal,)
    )
    assert [v["version"] for v in versions] == [1, 2]
    replan_prompt = fake.requests[2]["messages"][1]["content"]
    assert "the data source is gone" in replan_prompt
    first = store.one("SELECT status, plan_version FROM steps WHERE key = 'first'")
    assert first == {"status": "failed", "plan_version": 1}  # the old version stays visible
    then = store.one("SELECT status, error FROM steps WHERE key = 'then'")
    assert then == {"status": "cancelled", "error": "superseded by plan version 2"}


async def test_plan_review(store: Store, llm_settings: Settings, fake: FakeLLM) -> None:
    fake.script(plan(step("a")))
    goal = add_text_goal(store, "reviewed", review_plan=True)
    await run_idle(store, llm_settings)
    [approval] = pending_approvals(store)
    assert approval["kind"] == "plan" and "Do a" in approval["detail"]
    assert store.one("SELECT count(*) AS n FROM steps WHERE key = 'a'")["n"] == 0
    fake.script(plan(step("b")))
    control.reject(store, approval["id"], reason="call it b")
    await run_idle(store, llm_settings)
    [again] = pending_approvals(store)
    assert "call it b" in fake.requests[1]["messages"][-1]["content"]
    fake.script(finish("b done"))
    control.approve(store, again["id"])
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    assert store.one("SELECT status FROM steps WHERE key = 'b'")["status"] == "completed"


async def test_timeout_and_cut_stream_are_retried(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    llm_settings.llm.timeout = 0.5
    fake.script(
        text("too slow", delay=1.5),
        plan(step("a")),
        text("half a reply that never ends", cut_after=2),
        finish("done"),
    )
    goal = add_text_goal(store, "survive the network")
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    kinds = [e.message for e in store.events_after(0) if e.kind == "llm.retry"]
    assert any("Timeout" in k or "in time" in k.lower() for k in kinds), kinds
    assert any("incomplete reply" in k for k in kinds), kinds
    attempts = store.all("SELECT attempt FROM steps WHERE goal_id = ?", (goal,))
    assert all(s["attempt"] == 1 for s in attempts)


async def test_no_model_waits_and_recipes_still_run(store: Store, settings: Settings) -> None:
    goal = add_text_goal(store, "needs a model")
    from tests.helpers import add, echo

    recipe = add(store, {"title": "r", "steps": [echo("e", "x")]})
    await run_idle(store, settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "no model"
    assert "AGENT_TUI_MODEL" in row["status_message"]
    assert goal_status(store, recipe) == "completed"


async def test_recipe_mixes_agent_and_tool_steps(
    store: Store, llm_settings: Settings, fake: FakeLLM
) -> None:
    from tests.helpers import add, echo

    fake.script(
        call("write_file", {"path": "summary.md", "content": "fact: 42"}),
        finish("wrote summary.md from the fact"),
    )
    goal = add(
        store,
        {
            "title": "mixed",
            "steps": [
                echo("fact", "42"),
                {
                    "id": "summarise",
                    "kind": "agent",
                    "depends_on": ["fact"],
                    "tools": ["write_file"],
                    "instructions": "Write summary.md stating the fact {{ steps.fact.output }}.",
                },
                {
                    "id": "read",
                    "tool": "read_file",
                    "depends_on": ["summarise"],
                    "args": {"path": "summary.md"},
                },
            ],
        },
    )
    await run_idle(store, llm_settings)
    assert goal_status(store, goal) == "completed"
    prompt = fake.requests[0]["messages"][1]["content"]
    assert "stating the fact 42" in prompt and "- fact: 42" in prompt
    assert [t["function"]["name"] for t in fake.requests[0]["tools"]] == [
        "write_file",
        "finish_step",
        "fail_step",
    ]
    read = store.one("SELECT result FROM steps WHERE key = 'read'")
    assert json.loads(read["result"])["output"] == "fact: 42"
    assert store.one("SELECT count(*) AS n FROM artifacts WHERE name = 'Final report'")["n"] == 1


async def test_recipe_agent_step_without_model_waits_after_tool_steps(
    store: Store, settings: Settings
) -> None:
    from tests.helpers import add, echo

    goal = add(
        store,
        {
            "title": "mixed",
            "steps": [
                echo("fact", "42"),
                {"id": "think", "kind": "agent", "depends_on": ["fact"], "instructions": "think"},
            ],
        },
    )
    await run_idle(store, settings)
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] == "waiting" and row["wait_reason"] == "no model"
    assert store.one("SELECT status FROM steps WHERE key = 'fact'")["status"] == "completed"
