"""``agent-tui export``: goals run by the real executor, written as Markdown and JSON."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_tui.commands.common import UsageError
from agent_tui.commands.export import cmd_export
from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.control import NoSuchId
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Store
from tests.fake_llm import FakeLLM, call, text
from tests.helpers import add, echo, pending_approvals, run_idle, shell


def export(goal: int | str, out: Path, fmt: str = "both") -> None:
    cmd_export(argparse.Namespace(goal=str(goal), out=str(out), format=fmt))


def doc_step(id_: str, content: str, *deps: str) -> dict[str, Any]:
    return {
        "id": id_,
        "tool": "write_document",
        "args": {"name": "Report", "content": content},
        "depends_on": list(deps),
    }


async def test_a_recipe_goal_exports_everything(
    store: Store, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = {
        "title": "Export | me",
        "steps": [
            shell("kernel", "echo export-marker; echo 'three ``` ticks'"),
            doc_step("draft", "# Draft\n\nfirst", "kernel"),
            doc_step("final", "# Final\n\n{{ steps.kernel.output }}", "draft"),
            echo("note", "done", depends_on=["final"]),
        ],
    }
    goal = add(store, recipe)
    await run_idle(store, settings)
    [approval] = pending_approvals(store)
    control.approve(store, approval["id"])
    await run_idle(store, settings)
    assert store.one("SELECT status FROM goals WHERE id = ?", (goal,))["status"] == "completed"

    out = tmp_path / "exports" / "new"
    export(goal, out)
    md_path, json_path = out / f"goal-{goal}.md", out / f"goal-{goal}.json"
    assert capsys.readouterr().out.split() == [str(md_path), str(json_path)]
    assert sorted(os.listdir(out)) == [json_path.name, md_path.name]  # no temporary files left

    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["format"] == "agent-tui-export/1"
    assert data["goal"]["id"] == goal and data["goal"]["status"] == "completed"
    [plan] = data["plans"]
    assert plan["version"] == 1 and plan["reason"] == "recipe"
    assert [s["id"] for s in plan["steps"]] == ["kernel", "draft", "final", "note"]
    assert [s["key"] for s in data["steps"]] == ["kernel", "draft", "final", "note"]
    assert all(s["status"] == "completed" for s in data["steps"])
    kernel = next(a for a in data["actions"] if a["step"] == "kernel")
    assert kernel["exit_code"] == 0 and "export-marker" in kernel["output"]
    assert kernel["decision"] == "ask"
    assert [(d["name"], d["version"]) for d in data["documents"]] == [("Report", 1), ("Report", 2)]
    assert "export-marker" in data["documents"][1]["content"]
    assert data["approvals"][0]["status"] == "approved"
    assert data["usage"] == {
        "model_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "tokens_estimated": False,
        "cost_usd": 0,
        "by_model": [],
    }
    kinds = [e["kind"] for e in data["events"]]
    assert kinds[0] == "goal.created" and kinds[-1] == "goal.completed"
    assert "approval.requested" in kinds and "approval.approved" in kinds

    md = md_path.read_text(encoding="utf-8")
    assert md.startswith(f"# Goal {goal}: Export | me\n")
    assert "| Status | completed |" in md
    assert "| Steps | 4 of 4 done |" in md
    assert "| Cost | no model calls |" in md
    assert "### Version 1 (recipe," in md
    assert "2. `draft` — write_document; after `kernel`" in md
    assert "| 1 | kernel | shell | completed | 1/3 |" in md
    assert "### #1 kernel: shell — succeeded, exit 0" in md
    assert "$ echo export-marker; echo 'three ``` ticks'" in md
    # Output holding ``` gets a longer fence, so the block is not cut short.
    assert "````\nexport-marker\nthree ``` ticks\n````" in md
    assert "### Report (version 2, text/markdown)" in md
    assert "Earlier versions (in the JSON export): 1 (" in md
    assert "````markdown\n# Final\n\nexport-marker" in md
    assert "# Draft" not in md  # only the latest version is shown in full
    assert "| approval.requested |" in md and "| goal.completed |" in md
    assert "No model calls." in md


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as server:
        yield server


async def test_a_planned_goal_exports_its_plan_and_cost(
    store: Store, settings: Settings, fake: FakeLLM, tmp_path: Path
) -> None:
    settings.model = "openai/test-model"
    settings.llm.api_base = fake.api_base
    settings.llm.timeout = 5
    plan = {
        "steps": [
            {
                "id": "greet",
                "title": "Write the greeting",
                "instructions": "write hello.txt",
                "depends_on": [],
                "tools": ["write_file"],
            }
        ]
    }
    fake.script(
        text(json.dumps(plan)),
        call("write_file", {"path": "hello.txt", "content": "hello\n"}),
        call("finish_step", {"summary": "wrote hello.txt"}),
    )
    goal = add_text_goal(store, "say hello in a file")
    await run_idle(store, settings)
    assert store.one("SELECT status FROM goals WHERE id = ?", (goal,))["status"] == "completed"

    export(goal, tmp_path, "json")
    assert not (tmp_path / f"goal-{goal}.md").exists()
    data = json.loads((tmp_path / f"goal-{goal}.json").read_text(encoding="utf-8"))
    assert data["text"] == "say hello in a file"
    assert [(p["version"], p["reason"]) for p in data["plans"]] == [(1, "plan")]
    assert data["plans"][0]["steps"][0]["title"] == "Write the greeting"
    assert data["usage"]["model_calls"] == 3
    assert data["usage"]["prompt_tokens"] == 300 and data["usage"]["completion_tokens"] == 60
    assert data["usage"]["cost_usd"] is None  # an unknown model's cost is unknown, not 0
    assert data["usage"]["by_model"] == [
        {
            "model": "openai/test-model",
            "model_calls": 3,
            "prompt_tokens": 300,
            "completion_tokens": 60,
            "cost_usd": None,
        }
    ]

    export(goal, tmp_path, "md")
    md = (tmp_path / f"goal-{goal}.md").read_text(encoding="utf-8")
    assert "## Goal\n\nsay hello in a file" in md
    assert "1. `greet` — Write the greeting" in md and "   write hello.txt" in md
    assert "| Cost | unknown cost over 3 model calls |" in md
    assert "| openai/test-model | 3 | 300 | 60 | unknown |" in md


async def test_errors_are_one_clear_line(store: Store, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(NoSuchId, match=r"^no goal 42 \(see `agent-tui ls`\)$"):
        export(42, tmp_path)
    with pytest.raises(UsageError, match="is not a goal id"):
        export("abc", tmp_path)

    goal = add(store, {"title": "t", "steps": [echo("a", "x")]})
    await run_idle(store, settings)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=f"^--out {blocker}: not a directory$"):
        export(goal, blocker)
    with pytest.raises(ValueError, match=f"^cannot write {blocker}/sub/goal-{goal}.md: "):
        export(goal, blocker / "sub")
