"""MCP servers' tools against real servers: ``tests/data/mcp_server.py`` over stdio and HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent_tui.core.tools import mcp_session
from agent_tui.core.tools.base import ToolContext, ToolResult
from agent_tui.core.tools.mcp import McpArgs, McpManager, McpServerSettings, McpSettings

SERVER = str(Path(__file__).resolve().parent.parent / "data" / "mcp_server.py")


class Recorder:
    """A tool context's output and the manager's events, as they arrive."""

    def __init__(self, workspace: Path) -> None:
        self.output: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.workspace = workspace

    def ctx(self) -> ToolContext:
        return ToolContext(
            workspace=self.workspace,
            emit=lambda stream, text: self.output.append((stream, text)),
            goal_id=1,
            step_id=1,
            action_id=1,
            cancelled=asyncio.Event(),
        )

    def event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@pytest.fixture
def rec(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path)


def stdio(cwd: Path, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [SERVER], "cwd": str(cwd), **extra}


def manager(rec: Recorder, servers: dict[str, dict[str, Any]]) -> McpManager:
    settings = McpSettings.model_validate({"servers": servers})
    return McpManager(settings, on_event=rec.event)


def children() -> set[int]:
    """Live (not zombie) child processes of this test process."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] not in (b"Z", b"X"):
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


async def call(mgr: McpManager, rec: Recorder, name: str, /, **args: Any) -> ToolResult:
    tool = mgr.tools[name]
    return await tool.run(tool.parse(args), rec.ctx())


async def test_tools_are_listed_with_names_and_side_effects(rec: Recorder, tmp_path: Path) -> None:
    async with manager(rec, {"srv": stdio(tmp_path, read_only_tools=["echo", "add"])}) as mgr:
        tools = mgr.tools
        assert {
            "srv.echo",
            "srv.add",
            "srv.write_note",
            "srv.fail",
            "srv.crash",
            "srv.slow",
        } <= set(tools)
        assert tools["srv.echo"].side_effects is False
        assert tools["srv.add"].side_effects is False
        assert tools["srv.write_note"].side_effects is True
        decisions = {name: t.default_decision for name, t in tools.items()}
        assert decisions["srv.echo"] == decisions["srv.add"] == "allow"  # read-only: allow
        assert {d for n, d in decisions.items() if n not in ("srv.echo", "srv.add")} == {"ask"}
        assert tools["srv.echo"].description == "Return the text unchanged."
        schema = tools["srv.add"].schema()
        assert schema["name"] == "srv__add"
        assert schema["parameters"]["required"] == ["a", "b"]
        assert schema["parameters"]["properties"]["a"]["type"] == "integer"
        assert mgr.status()["srv"]["state"] == "running"
    assert rec.kinds() == ["mcp.started"]


async def test_calls_return_results_and_stream_text(rec: Recorder, tmp_path: Path) -> None:
    async with manager(rec, {"srv": stdio(tmp_path)}) as mgr:
        echoed = await call(mgr, rec, "srv.echo", text="héllo")
        assert echoed.ok and echoed.output == "héllo"
        assert echoed.data["server"] == "srv" and echoed.data["result"] == "héllo"
        added = await call(mgr, rec, "srv.add", a=2, b=40)
        assert added.ok and added.output == "42" and added.data["structured"] == {"result": 42}
        wrote = await call(mgr, rec, "srv.write_note", path="note.txt", text="side effect")
        assert wrote.ok
        assert (tmp_path / "note.txt").read_text() == "side effect"
        counted = await call(mgr, rec, "srv.count", n=2)
        assert counted.ok
    assert ("stdout", "héllo\n") in rec.output
    assert ("stderr", "[1/2] step 1\n") in rec.output


async def test_an_error_result_is_a_failure(rec: Recorder, tmp_path: Path) -> None:
    async with manager(rec, {"srv": stdio(tmp_path)}) as mgr:
        result = await call(mgr, rec, "srv.fail", message="no disk")
        assert not result.ok and not result.transient
        assert result.error is not None and "no disk" in result.error
        assert result.data["is_error"] is True


async def test_arguments_are_checked_against_the_servers_schema(
    rec: Recorder, tmp_path: Path
) -> None:
    async with manager(rec, {"srv": stdio(tmp_path)}) as mgr:
        add = mgr.tools["srv.add"]
        with pytest.raises(ValidationError) as missing:
            add.parse({"a": 1})
        assert missing.value.errors()[0]["loc"] == ("b",)
        assert missing.value.errors()[0]["msg"] == "Field required"
        with pytest.raises(ValidationError) as wrong:
            add.parse({"a": 1, "b": "two"})
        assert wrong.value.errors()[0]["loc"] == ("b",)
        assert "is not of type 'integer'" in wrong.value.errors()[0]["msg"]
        args = add.parse({"a": 1, "b": 2})
        assert isinstance(args, McpArgs) and args.values == {"a": 1, "b": 2}
        assert add.preview(args, tmp_path) == 'srv.add {"a": 1, "b": 2}'
        note = mgr.tools["srv.write_note"]
        long = note.parse({"path": "n.txt", "text": "line one\nline two " + "x" * 100})
        preview = note.preview(long, tmp_path)
        assert preview.splitlines()[0] == "srv.write_note"
        assert '"path": "n.txt"' in preview and "x" * 100 in preview


async def test_a_crash_is_transient_and_the_server_is_restarted(
    rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_session, "RESTART_DELAY", 0.05)
    async with manager(rec, {"srv": stdio(tmp_path)}) as mgr:
        first = int((await call(mgr, rec, "srv.pid")).output)
        crashed = await call(mgr, rec, "srv.crash")
        assert not crashed.ok and crashed.transient and crashed.data["interrupted"] is True
        assert crashed.error is not None
        assert "stopped during the call" in crashed.error
        assert "crashing on purpose" in crashed.error
        after = await call(mgr, rec, "srv.pid")
        assert after.ok and int(after.output) != first
        assert not alive(first)
        assert "mcp.restarting" in rec.kinds() and "mcp.restarted" in rec.kinds()


async def test_restarts_are_bounded(
    rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_session, "RESTART_DELAY", 0.01)
    async with manager(rec, {"srv": stdio(tmp_path)}) as mgr:
        for _ in range(mcp_session.MAX_RESTARTS):
            assert (await call(mgr, rec, "srv.crash")).transient
            assert (await call(mgr, rec, "srv.echo", text="up")).ok
        await call(mgr, rec, "srv.crash")
        down = await call(mgr, rec, "srv.echo", text="up?")
        assert not down.ok and not down.transient
        assert down.error is not None and down.error.startswith("MCP server srv is down: ")
        assert rec.kinds().count("mcp.restarted") == mcp_session.MAX_RESTARTS
        assert "not restarting it now" in rec.events[-1][1]
        assert mgr.status()["srv"]["state"] == "failed"
    assert children() == set()


async def test_a_slow_call_times_out(rec: Recorder, tmp_path: Path) -> None:
    async with manager(rec, {"srv": stdio(tmp_path, timeout=0.5)}) as mgr:
        result = await call(mgr, rec, "srv.slow", seconds=30)  # it would answer after 30 s
        assert not result.ok and result.transient
        assert result.error == "timed out after 0.5 s"
        assert (await call(mgr, rec, "srv.echo", text="still here")).ok


async def test_a_call_is_cancelled(rec: Recorder, tmp_path: Path) -> None:
    async with manager(rec, {"srv": stdio(tmp_path)}) as mgr:
        tool = mgr.tools["srv.slow"]
        ctx = rec.ctx()
        task = asyncio.create_task(tool.run(tool.parse({"seconds": 30}), ctx))
        await asyncio.sleep(0.3)
        assert not task.done()
        ctx.cancelled.set()
        result = await asyncio.wait_for(task, 5)
        assert not result.ok and not result.transient and result.error == "cancelled"
        assert (await call(mgr, rec, "srv.echo", text="still here")).ok


async def test_stop_leaves_no_process(rec: Recorder, tmp_path: Path) -> None:
    mgr = manager(rec, {"one": stdio(tmp_path), "two": stdio(tmp_path)})
    await mgr.start()
    pids = [int((await call(mgr, rec, f"{name}.pid")).output) for name in ("one", "two")]
    assert all(alive(pid) for pid in pids)
    busy = asyncio.create_task(call(mgr, rec, "one.slow", seconds=30))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(mgr.stop(), 15)
    assert not any(alive(pid) for pid in pids)
    assert children() == set()
    result = await asyncio.wait_for(busy, 5)
    assert not result.ok


async def test_stop_during_a_restart_leaves_no_process(
    rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that the restart is surely still pending when stop comes, however loaded the
    # machine; stop must not wait for it (the wait_for below would then time out).
    monkeypatch.setattr(mcp_session, "RESTART_DELAY", 60)
    mgr = manager(rec, {"srv": stdio(tmp_path)})
    await mgr.start()
    assert (await call(mgr, rec, "srv.crash")).transient
    assert mgr.status()["srv"]["state"] == "restarting"
    await asyncio.wait_for(mgr.stop(), 15)
    assert mgr.status()["srv"]["state"] == "stopped"
    assert "mcp.restarted" not in rec.kinds()
    assert children() == set()


async def test_a_server_that_cannot_start_is_reported_and_skipped(
    rec: Recorder, tmp_path: Path
) -> None:
    servers = {
        "missing": {"command": "agent-tui-no-such-mcp-server"},
        "hangs": {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"]},
        "srv": stdio(tmp_path),
    }
    settings = McpSettings.model_validate({"servers": servers})
    settings.servers["hangs"].start_timeout = 1
    async with McpManager(settings, on_event=rec.event) as mgr:
        assert {name.split(".")[0] for name in mgr.tools} == {"srv"}
        assert (await call(mgr, rec, "srv.echo", text="fine")).ok
        status = mgr.status()
        assert status["missing"]["state"] == "failed"
        assert status["hangs"]["state"] == "failed"
    errors = dict((msg.split()[1], msg) for kind, msg in rec.events if kind == "mcp.error")
    assert errors["missing"] == (
        "server missing failed to start: No such file or directory: agent-tui-no-such-mcp-server"
    )
    assert errors["hangs"] == "server hangs failed to start: no answer within 1 s"
    assert children() == set()


async def test_environment_variables_are_expanded(
    rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_TEST_GREETING", "bonjour")
    monkeypatch.delenv("MCP_TEST_UNSET", raising=False)
    servers = {
        "srv": stdio(tmp_path, env={"GREETING": "${MCP_TEST_GREETING}!", "PLAIN": "$HOME"}),
        "broken": stdio(tmp_path, env={"X": "${MCP_TEST_UNSET}"}),
    }
    async with manager(rec, servers) as mgr:
        assert (await call(mgr, rec, "srv.env", name="GREETING")).output == "bonjour!"
        assert (await call(mgr, rec, "srv.env", name="PLAIN")).output == "$HOME"
        assert (await call(mgr, rec, "srv.env", name="MCP_TEST_GREETING")).output == ""
    assert (
        "mcp.error",
        "server broken failed to start: environment variable MCP_TEST_UNSET is not set",
    ) in rec.events


async def test_a_disabled_server_is_not_started(rec: Recorder, tmp_path: Path) -> None:
    async with manager(rec, {"srv": stdio(tmp_path, enabled=False)}) as mgr:
        assert mgr.tools == {} and mgr.status() == {}
    assert rec.events == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--http", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the HTTP MCP server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_a_streamable_http_server(rec: Recorder, http_server: str) -> None:
    async with manager(rec, {"web": {"url": http_server, "read_only_tools": ["echo"]}}) as mgr:
        assert mgr.tools["web.echo"].side_effects is False
        result = await call(mgr, rec, "web.add", a=1, b=2)
        assert result.ok and result.output == "3"


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"command": "x", "url": "http://127.0.0.1:1/mcp"}, "exactly one of command"),
        ({"read_only_tools": ["a"]}, "exactly one of command"),
        ({"command": "  "}, "command is empty"),
        ({"url": "ftp://host/mcp"}, "http:// or https://"),
        ({"url": "http://127.0.0.1:1/mcp", "args": ["-v"]}, "apply to command servers only"),
        ({"command": "x", "headers": {"A": "b"}}, "apply to url servers only"),
        ({"command": "x", "timeout": 0}, "greater than 0"),
        ({"command": "x", "unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_server_config_is_refused(conf: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        McpServerSettings.model_validate(conf)


@pytest.mark.parametrize("name", ["1st", "has.dot", "has space", "", "_x"])
def test_bad_server_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="must start with a letter"):
        McpSettings.model_validate({"servers": {name: {"command": "x"}}})


def test_good_config() -> None:
    settings = McpSettings.model_validate(
        {
            "servers": {
                "files-1": {"command": "npx", "args": ["-y", "server"], "env": {"A": "b"}},
                "Remote_2": {"url": "https://example.com/mcp", "headers": {"Authorization": "x"}},
            }
        }
    )
    assert settings.servers["files-1"].timeout == 60
    assert settings.servers["files-1"].enabled is True
    assert settings.servers["Remote_2"].read_only_tools == []
