"""An internal error never leaves an action ``running``: faults injected at each point of the recipe
and agent paths, and the output batch that once opened a transaction inside another one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent_tui.config import Settings
from agent_tui.core.output import FLUSH_BYTES, OutputWriter, stored_output
from agent_tui.core.secrets import Redactor
from agent_tui.core.spool import Spool
from agent_tui.core.store import Store, runs
from tests.conftest import CLI, cli_env
from tests.fake_llm import FakeLLM, call
from tests.helpers import add, echo, goal_status, pending_approvals, run_idle, shell, steps

KEY = "abcdefgh"
SIZE = FLUSH_BYTES + 3
"""Just over a batch: the redactor holds back the last bytes, and closing releases them."""


class Injected(RuntimeError):
    """The fault a test injects."""


def fail_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Make ``owner.name`` raise :class:`Injected` on its first call only; return the call count."""
    original = getattr(owner, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise Injected(f"injected into {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def _started_action(store: Store) -> tuple[int, int, int]:
    goal = add(store, {"title": "g", "steps": [echo("a", "x")]})
    limits = runs.ClaimLimits(max_parallel=4, per_goal=4, lease_seconds=15)
    with store.write() as tx:
        [step] = runs.claim(tx, "me", limits, 1)
        action_id, _ = runs.propose_action(
            tx,
            step,
            tool="echo",
            args={"text": "x"},
            side_effects=False,
            decision="allow",
            reason="test",
            preview="echo",
            dry_run=False,
        )
        runs.start_action(tx, action_id, "me")
    return goal, step["id"], action_id


def test_closing_in_a_transaction_opens_no_other(store: Store, tmp_path: Path) -> None:
    store.redactor = Redactor({"MY_API_KEY": KEY})
    goal, step, action = _started_action(store)
    writer = OutputWriter(
        store, goal_id=goal, step_id=step, action_id=action, cap=1 << 21, log_dir=tmp_path
    )
    writer.emit("stdout", "x" * SIZE)
    with store.write() as tx:
        writer.close(tx)
    assert stored_output(store, action) == "x" * SIZE
    assert (tmp_path / f"{action}.log").read_text() == "x" * SIZE


def test_a_batch_due_inside_a_transaction_waits(store: Store, tmp_path: Path) -> None:
    store.redactor = Redactor({"MY_API_KEY": KEY})
    goal, step, action = _started_action(store)
    writer = OutputWriter(
        store, goal_id=goal, step_id=step, action_id=action, cap=1 << 21, log_dir=tmp_path
    )
    with store.write():
        writer.emit("stdout", f"{KEY} " + "y" * (2 * FLUSH_BYTES))
    writer.close()
    assert stored_output(store, action) == "[redacted:MY_API_KEY] " + "y" * (2 * FLUSH_BYTES)


def test_a_batch_of_output_with_a_secret_set_in_a_real_worker(tmp_path: Path, home: Path) -> None:
    recipe = tmp_path / "big.toml"
    recipe.write_text(f"""
title = "big"
[[steps]]
id = "big"
tool = "shell"
args = {{ command = "head -c {SIZE} /dev/zero | tr '\\\\0' x" }}
""")
    env = cli_env(home, MY_API_KEY=KEY, AGENT_TUI_POLICY__TOOLS='{ shell = "allow" }')
    subprocess.run([*CLI, "add", "--recipe", str(recipe)], env=env, check=True, capture_output=True)
    worker = subprocess.run(
        [*CLI, "worker", "--until-idle"], env=env, capture_output=True, text=True, timeout=120
    )
    assert worker.returncode == 0, worker.stderr
    assert "internal error" not in worker.stderr
    detail = json.loads(
        subprocess.run(
            [*CLI, "show", "1", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    assert detail["goal"]["status"] == "completed", detail["goal"]
    [action] = detail["actions"]
    assert action["status"] == "succeeded" and action["output_bytes"] == SIZE
    [log] = (home / "data" / "outputs").glob("*.log")
    assert log.read_text() == "x" * SIZE


def _patch(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    targets: dict[str, tuple[Any, str]] = {
        "before the tool": (OutputWriter, "__init__"),
        "while streaming": (OutputWriter, "flush"),
        "after the tool": (runs.Outcome, "of"),
        "closing the output": (OutputWriter, "close"),
        "recording the end": (runs, "finish_action"),
    }
    owner, name = targets[point]
    fail_once(monkeypatch, owner, name)


def _no_action_running(store: Store) -> None:
    assert store.all("SELECT id FROM actions WHERE status = 'running'") == []
    assert store.all("SELECT id FROM steps WHERE status = 'running'") == []


BIG = f"head -c {2 * FLUSH_BYTES} /dev/zero | tr '\\0' y; echo"


@pytest.mark.parametrize(
    "point",
    [
        "before the tool",
        "while streaming",
        "after the tool",
        "closing the output",
        "recording the end",
    ],
)
@pytest.mark.parametrize("tool", ["shell", "echo"])
async def test_recipe_step_fault_leaves_no_action_running(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch, point: str, tool: str
) -> None:
    settings.policy.tools["shell"] = "allow"
    step = shell("a", BIG) if tool == "shell" else echo("a", "z" * (2 * FLUSH_BYTES))
    goal = add(store, {"title": "g", "steps": [step]})
    _patch(monkeypatch, point)
    await run_idle(store, settings)
    _no_action_running(store)
    [action] = store.all("SELECT * FROM actions")
    a = steps(store, goal)["a"]
    if point == "before the tool" and tool == "shell":
        # The tool may have started: a side effect is never repeated blindly, a human decides.
        assert action["status"] == "unknown" and "internal error" in action["error"]
        assert a["status"] == "unknown"
        [approval] = pending_approvals(store)
        assert approval["kind"] == "unknown" and "Injected" in approval["detail"]
        assert goal_status(store, goal) == "waiting"
    elif point in ("closing the output", "recording the end"):
        # The tool's result was known and spooled before the failed transaction: it is
        # recorded from the spool, so the command is neither failed nor run again.
        assert action["status"] == "succeeded"
        assert a["status"] == "completed"
        assert goal_status(store, goal) == "completed"
        [event] = store.all("SELECT message FROM events WHERE kind = 'action.succeeded'")
        assert "recorded from the spool" in event["message"]
        return
    else:
        assert action["status"] == "failed"
        assert a["status"] == "failed" and "Injected" in a["error"]
        assert goal_status(store, goal) == "failed"
    kinds = {e["kind"] for e in store.all("SELECT kind FROM events WHERE goal_id = ?", (goal,))}
    assert kinds & {"step.failed", "step.unknown"}


@pytest.mark.parametrize(("point", "status"), [("before", "unknown"), ("record", "succeeded")])
async def test_agent_step_fault_leaves_no_action_running(
    store: Store,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    status: str,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings.policy.tools["shell"] = "allow"
    with FakeLLM() as fake:
        settings.model = "openai/test-model"
        settings.llm.api_base = fake.api_base
        settings.llm.timeout = 5
        fake.script(call("shell", {"command": "echo hi"}), call("finish_step", {"summary": "ok"}))
        goal = add(
            store,
            {
                "title": "agent",
                "steps": [{"id": "a", "kind": "agent", "instructions": "x", "tools": ["shell"]}],
            },
        )
        if point == "before":
            fail_once(monkeypatch, OutputWriter, "__init__")
        else:
            fail_once(monkeypatch, runs, "record_action")
        await run_idle(store, settings)
    _no_action_running(store)
    [action] = store.all("SELECT * FROM actions")
    if point == "record":  # the command's result was spooled first: it is kept, not failed
        assert action["status"] == "succeeded" and action["error"] is None
        step = steps(store, goal)["a"]
        assert step["status"] == "failed" and "Injected" in step["error"]
        return
    assert action["status"] == status and "Injected" in action["error"]
    assert steps(store, goal)["a"]["status"] == ("unknown" if status == "unknown" else "failed")


async def test_an_unrecordable_failure_is_recovered_when_the_lease_expires(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even the failure cannot be written: the lease is no longer renewed, the reaper recovers
    the step like a crash, and a read-only step runs again (the spool is unwritable here)."""
    settings.executor.lease_seconds = 1.5
    settings.executor.heartbeat_seconds = 0.2
    goal = add(store, {"title": "g", "steps": [echo("a", "hello")]})
    fail_once(monkeypatch, runs, "finish_action")
    fail_once(monkeypatch, runs, "abandon_step")
    monkeypatch.setattr(Spool, "put", lambda self, entry: None)
    await run_idle(store, settings)
    _no_action_running(store)
    first, second = store.all("SELECT * FROM actions ORDER BY id")
    assert first["status"] == "failed" and "interrupted" in first["error"]
    assert second["status"] == "succeeded"
    assert goal_status(store, goal) == "completed"


async def test_an_unrecordable_result_is_recorded_from_the_spool(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the result nor the failure can be written, nor the first replay: the spooled
    result is recorded by the reaper's next replay; the action is never run again."""
    settings.executor.lease_seconds = 1.5
    settings.executor.heartbeat_seconds = 0.2
    goal = add(store, {"title": "g", "steps": [echo("a", "hello")]})
    fail_once(monkeypatch, runs, "finish_action")
    fail_once(monkeypatch, runs, "abandon_step")
    fail_once(monkeypatch, runs, "apply_spooled")
    await run_idle(store, settings)
    _no_action_running(store)
    [action] = store.all("SELECT * FROM actions")
    assert action["status"] == "succeeded"
    assert goal_status(store, goal) == "completed"
    assert steps(store, goal)["a"]["result"] is not None
