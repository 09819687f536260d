"""Agent steps in the output pane: the stored conversation, and the model's text as it streams."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent_tui.config import Settings
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.messages import OutputSegment
from agent_tui.ui.widgets.step_timeline import StepTimeline
from agent_tui.ui.widgets.tool_output import ToolOutput
from tests.fake_llm import FakeLLM, call, text
from tests.ui.conftest import SIZE, goal_status, wait_until


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as server:
        yield server


async def test_an_agent_steps_conversation_is_readable(
    store: Store, settings: Settings, fake: FakeLLM
) -> None:
    settings.model = "openai/test-model"
    settings.llm.api_base = fake.api_base
    step = {
        "id": "note",
        "title": "Write the note",
        "instructions": "write hello into note.txt",
        "depends_on": [],
        "tools": ["write_file"],
    }
    fake.replies.extend(
        [
            text(json.dumps({"steps": [step]})),
            call("write_file", {"path": "note.txt", "content": "hello"}),
            text("The note is written.", tool_calls=[("finish_step", {"summary": "wrote it"})]),
        ]
    )
    goal_id = add_text_goal(store, "leave a note")
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "completed", "the goal")
        timeline = app.main.query_one(StepTimeline)
        await wait_until(pilot, lambda: len(timeline.steps) == 2, "the plan and the agent step")
        output = app.main.query_one(ToolOutput)
        await wait_until(  # the plan step's conversation, once the pane has heard of the row
            pilot, lambda: output.transcript_step == timeline.steps[0]["id"], "the plan's"
        )
        assert '"steps"' in "\n".join(output.lines)
        timeline.move_cursor(row=1)
        await wait_until(
            pilot, lambda: output.transcript_step == timeline.steps[1]["id"], "the agent's"
        )
        shown = "\n".join(output.lines)
        assert "── user ──" in shown
        assert "→ write_file" in shown and '"note.txt"' in shown
        assert "── assistant ──\nThe note is written." in shown
        assert "conversation" in str(output.border_title)

        # The step has finished: model text that reaches the pane late (the bridge is slow
        # under load) is already in its stored conversation and is not shown twice.
        before = list(output.lines)
        output.add_segment(OutputSegment(goal_id, output.transcript_step, 0, 0, "late text"))
        await pilot.pause()
        assert output.lines == before
