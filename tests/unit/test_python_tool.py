"""The ``python`` tool against real subprocesses."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent_tui.config import Settings
from agent_tui.core.tools.base import ToolContext, ToolResult
from agent_tui.core.tools.python_tool import PythonTool
from tests.helpers import HANG, Sink, alive


def make_ctx(workspace: Path, sink: Sink | None = None, timeout: float = 600.0) -> ToolContext:
    settings = Settings()
    settings.shell.timeout = timeout
    settings.shell.kill_grace = 0.3
    return ToolContext(
        workspace=workspace,
        emit=sink or Sink(),
        goal_id=1,
        step_id=2,
        action_id=3,
        cancelled=asyncio.Event(),
        settings=settings,
    )


async def run(ctx: ToolContext, code: str, **raw: Any) -> ToolResult:
    tool = PythonTool()
    return await asyncio.wait_for(tool.run(tool.parse({"code": code, **raw}), ctx), 30)


MARK = f"100.{uuid.uuid4().int % 10**8}"
"""The sleepers' duration: unique, so the process is found by its command line."""
SPAWN_SLEEPER = (
    "import subprocess\n"
    f"child = subprocess.Popen(['sleep', '{MARK}'])\n"
    "print(child.pid)\n"
    "child.wait()\n"
)


async def test_output_is_streamed_as_it_arrives(tmp_path: Path):
    sink = Sink()
    code = "import sys, time\nprint('one')\nprint('err', file=sys.stderr)\ntime.sleep(0.3)\nprint('two')"
    result = await run(make_ctx(tmp_path, sink), code)
    done = time.monotonic()
    assert result.ok and result.error is None
    assert result.output == "one\ntwo"
    assert sink.text() == "one\ntwo\n"
    assert sink.text("stderr") == "err\n"
    first = next(t for s, text, t in sink.chunks if s == "stdout" and "one" in text)
    assert done - first >= 0.25, "print() reaches the sink before the script ends (unbuffered)"
    assert set(result.data) == {"exit_code", "stdout", "stderr", "duration"}
    assert result.data["exit_code"] == 0
    assert result.data["stdout"] == "one\ntwo\n"
    assert result.data["stderr"] == "err\n"
    assert result.data["duration"] >= 0.3


async def test_exit_code_and_error_line(tmp_path: Path):
    result = await run(make_ctx(tmp_path), "import sys\nprint('partial')\nsys.exit(3)")
    assert not result.ok
    assert result.data["exit_code"] == 3
    assert result.output == "partial"
    assert result.error == "exit code 3"
    assert not result.transient


async def test_exception_gives_a_traceback_with_source(tmp_path: Path):
    result = await run(make_ctx(tmp_path), "x = 1\ny = x / 0\n")
    assert result.data["exit_code"] == 1
    assert result.error == "exit code 1: ZeroDivisionError: division by zero"
    assert "y = x / 0" in result.data["stderr"], "the traceback shows the failing line"


async def test_exit_75_is_transient(tmp_path: Path):
    result = await run(make_ctx(tmp_path), "raise SystemExit(75)")
    assert not result.ok and result.transient


async def test_cwd_is_the_workspace_and_nothing_is_left_in_it(tmp_path: Path):
    (tmp_path / "data.txt").write_text("42\n")
    code = "import os\nprint(os.getcwd())\nprint(open('data.txt').read().strip())"
    result = await run(make_ctx(tmp_path), code)
    assert result.output.splitlines() == [str(tmp_path.resolve()), "42"]
    assert [p.name for p in tmp_path.iterdir()] == ["data.txt"], "the script is not in it"


async def test_isolated_mode_and_utf8_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", "/nonexistent-agent-tui-test")
    monkeypatch.setenv("LC_ALL", "C")
    code = (
        "import sys\n"
        "print(sys.flags.isolated, '/nonexistent-agent-tui-test' in sys.path)\n"
        "print('café €')"
    )
    result = await run(make_ctx(tmp_path), code)
    assert result.output.splitlines() == ["1 False", "café €"]


async def test_code_longer_than_an_argument_may_be(tmp_path: Path):
    code = "x = 0\n" + "x += 1\n" * 40_000 + "print(x)\n"  # ~280 KB, over MAX_ARG_STRLEN
    result = await run(make_ctx(tmp_path), code)
    assert result.output == "40000"


async def test_timeout_kills_a_grandchild(tmp_path: Path):
    result = await run(make_ctx(tmp_path), SPAWN_SLEEPER, timeout=0.5)
    assert not result.ok
    assert result.error == "timed out after 0.5 s"
    assert not alive(MARK)


async def test_timeout_from_settings(tmp_path: Path):
    result = await run(make_ctx(tmp_path, timeout=0.3), "import time\ntime.sleep(100)")
    assert result.error == "timed out after 0.3 s"


async def test_cancel_ends_the_group(tmp_path: Path):
    sink = Sink()
    ctx = make_ctx(tmp_path, sink)
    task = asyncio.create_task(run(ctx, SPAWN_SLEEPER))
    await asyncio.wait_for(sink.arrived.wait(), 10)
    ctx.cancelled.set()
    result = await asyncio.wait_for(task, 10)
    assert not result.ok
    assert result.error == "cancelled"
    assert not alive(MARK)


async def test_already_cancelled_does_not_start(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    ctx.cancelled.set()
    result = await run(ctx, "open('ran', 'w').close()")
    assert result.error == "cancelled"
    assert not (tmp_path / "ran").exists()


async def test_background_process_is_ended_after_success(tmp_path: Path):
    code = f"import subprocess\nprint(subprocess.Popen(['sleep', '{MARK}']).pid)"
    # A hang guard, not a timing check: waiting for the sleeper would take its 100 s.
    result = await asyncio.wait_for(run(make_ctx(tmp_path), code), HANG)
    assert result.ok
    assert not alive(MARK)


def test_args_and_preview(tmp_path: Path):
    tool = PythonTool()
    assert tool.name == "python" and tool.side_effects and tool.default_decision == "ask"
    for bad in ({"code": ""}, {"code": " \n"}, {"code": "x", "timeout": 0}, {}, {"cmd": "x"}):
        with pytest.raises(ValidationError):
            tool.parse(bad)
    assert tool.preview(tool.parse({"code": "print(1)\n"}), tmp_path) == "python\nprint(1)"
    preview = tool.preview(tool.parse({"code": "a = 1\nprint(a)", "timeout": 5}), tmp_path)
    assert preview == "python  (timeout 5 s)\na = 1\nprint(a)"
    assert tool.schema()["parameters"]["required"] == ["code"]
