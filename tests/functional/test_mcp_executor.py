"""MCP tools through the executor: listed, approved, called from recipes and by the agent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.goals import add_text_goal
from agent_tui.core.recipes import RecipeError
from agent_tui.core.store import Store
from agent_tui.core.tools.mcp_config import McpSettings
from tests.fake_llm import FakeLLM, call, text
from tests.helpers import add, goal_status, pending_approvals, run_idle, steps

SERVER = str(Path(__file__).resolve().parent.parent / "data" / "mcp_server.py")


@pytest.fixture
def mcp_settings(settings: Settings, tmp_path: Path, home: Path) -> Settings:
    (tmp_path / "srv").mkdir()
    settings.mcp = McpSettings.model_validate(
        {
            "servers": {
                "srv": {
                    "command": sys.executable,
                    "args": [SERVER],
                    "cwd": str(tmp_path / "srv"),
                    "read_only_tools": ["echo", "add"],
                }
            }
        }
    )
    # recipes look the servers up in the config file
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[mcp.servers.srv]\ncommand = "{sys.executable}"\nargs = ["{SERVER}"]\n')
    return settings


SUM_THEN_NOTE = {
    "title": "mcp",
    "steps": [
        {"id": "sum", "tool": "srv.add", "args": {"a": 2, "b": 3}},
        {
            "id": "note",
            "tool": "srv.write_note",
            "depends_on": ["sum"],
            "args": {"path": "n.txt", "text": "sum is {{ steps.sum.output }}"},
        },
    ],
}


async def test_read_only_tools_run_and_side_effecting_ones_ask(
    store: Store, mcp_settings: Settings, tmp_path: Path
) -> None:
    goal = add(store, SUM_THEN_NOTE)
    await run_idle(store, mcp_settings)
    sum_action = store.one("SELECT * FROM actions WHERE tool = 'srv.add'")
    assert sum_action["status"] == "succeeded" and sum_action["decision"] == "allow"
    assert sum_action["decision_reason"] == "default for srv.add"
    [approval] = pending_approvals(store)  # a tool not listed read-only asks
    assert "srv.write_note" in approval["detail"] and "sum is 5" in approval["detail"]
    control.approve(store, approval["id"])
    await run_idle(store, mcp_settings)
    assert goal_status(store, goal) == "completed"
    assert (tmp_path / "srv" / "n.txt").read_text() == "sum is 5"
    kinds = [e.kind for e in store.events_after(0)]
    assert "mcp.started" in kinds


@pytest.mark.parametrize("how", ["read_only_decision", "policy.tools"])
async def test_the_config_can_make_a_read_only_tool_ask(
    store: Store, mcp_settings: Settings, how: str
) -> None:
    if how == "policy.tools":
        mcp_settings.policy.tools["srv.add"] = "ask"
    else:
        mcp_settings.mcp.servers["srv"].read_only_decision = "ask"
    add(store, SUM_THEN_NOTE)
    await run_idle(store, mcp_settings)
    [approval] = pending_approvals(store)
    assert approval["detail"].startswith("srv.add")
    assert store.one("SELECT status FROM actions")["status"] == "awaiting_approval"


async def test_dry_run_records_side_effecting_mcp_calls(
    store: Store, mcp_settings: Settings, tmp_path: Path
) -> None:
    mcp_settings.policy.tools["srv.write_note"] = "allow"
    goal = add(
        store,
        {
            "title": "dry",
            "dry_run": True,
            "steps": [
                {"id": "note", "tool": "srv.write_note", "args": {"path": "n.txt", "text": "x"}}
            ],
        },
    )
    await run_idle(store, mcp_settings)
    assert goal_status(store, goal) == "completed"
    assert store.one("SELECT status FROM actions")["status"] == "dry_run"
    assert not (tmp_path / "srv" / "n.txt").exists()


async def test_run_again_after_the_server_died_is_the_only_decision(
    store: Store, mcp_settings: Settings, tmp_path: Path
) -> None:
    step = {"id": "w", "tool": "srv.write_or_crash", "args": {"path": "out.txt", "text": "hi"}}
    goal = add(store, {"title": "crash", "steps": [step]})
    await run_idle(store, mcp_settings)
    [first] = pending_approvals(store)  # a side-effecting MCP tool asks
    control.approve(store, first["id"])
    await run_idle(store, mcp_settings)
    [unknown] = pending_approvals(store)  # the server died mid-call
    assert unknown["kind"] == "unknown" and steps(store, goal)["w"]["status"] == "unknown"
    assert control.approve(store, unknown["id"], choice="run_again") == "run_again"
    await run_idle(store, mcp_settings)
    assert pending_approvals(store) == []
    assert goal_status(store, goal) == "completed"
    assert (tmp_path / "srv" / "out.txt").read_text() == "hi"
    actions = store.all("SELECT status, decision FROM actions ORDER BY id")
    assert [a["status"] for a in actions] == ["failed", "succeeded"]
    assert store.one("SELECT count(*) AS n FROM approvals")["n"] == 2


def test_recipe_names_an_unknown_server(store: Store, mcp_settings: Settings) -> None:
    with pytest.raises(RecipeError, match="unknown MCP server 'nope'"):
        add(store, {"title": "x", "steps": [{"id": "a", "tool": "nope.echo"}]})


async def test_agent_calls_an_mcp_tool(
    store: Store, mcp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    mcp_settings.policy.tools["srv.echo"] = "allow"
    with FakeLLM() as fake:
        mcp_settings.model = "openai/test"
        mcp_settings.llm.api_base = fake.api_base
        fake.script(
            text(
                json.dumps(
                    {
                        "steps": [
                            {
                                "id": "a",
                                "title": "Echo",
                                "instructions": "echo",
                                "tools": ["srv.echo"],
                            }
                        ]
                    }
                )
            ),
            call("srv__echo", {"text": "hello mcp"}),
            call("finish_step", {"summary": "echoed"}),
        )
        goal = add_text_goal(store, "use the server")
        await run_idle(store, mcp_settings)
        names = [t["function"]["name"] for t in fake.requests[1]["tools"]]
        reply = [m for m in fake.requests[2]["messages"] if m["role"] == "tool"][-1]
    assert goal_status(store, goal) == "completed"
    assert names == ["srv__echo", "finish_step", "fail_step"]
    assert "hello mcp" in json.loads(reply["content"])["output"]
