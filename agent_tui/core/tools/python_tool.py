"""The ``python`` tool: a snippet of Python run in a subprocess with the workspace as its cwd.

The code is written to a temporary file outside the workspace and run as
``python -I -u -X utf8 FILE``: a file has no argument-length limit and gives tracebacks with
source lines; isolated mode (``-I``) keeps agent-tui's own ``PYTHON*`` variables and user
site-packages out, and does not put the script's directory or the cwd on ``sys.path``.
The process machinery (own process group, streaming, timeout, cancel) is the shell tool's.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic import Field, field_validator

from agent_tui.core.sandbox import sandboxed
from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolResult
from agent_tui.core.tools.process import run_process, timing

PREVIEW_CHARS = 20_000
"""Most characters of code shown in a preview."""


class PythonArgs(ToolArgs):
    code: str = Field(min_length=1, description="Python source to run as a script.")
    timeout: float | None = Field(
        None, gt=0, le=86400, description="Seconds before the process is killed."
    )

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("code is empty")
        if "\x00" in value:
            raise ValueError("code contains a NUL byte")
        return value


class PythonTool(Tool):
    """Run Python code in the workspace."""

    name = "python"
    description = (
        "Run Python code as a script (the same Python as agent-tui, isolated mode, unbuffered) "
        "with the workspace as the current directory; returns its standard output. "
        "Print what you need. The workspace is not on sys.path: add sys.path.insert(0, '') "
        "to import modules from it. Background processes are ended when the script finishes."
    )
    Args = PythonArgs
    side_effects = True
    default_decision = "ask"

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, PythonArgs)
        head = "python"
        if args.timeout is not None:
            head += f"  (timeout {args.timeout:g} s)"
        code = args.code.rstrip("\n")
        if len(code) > PREVIEW_CHARS:
            code = (
                code[:PREVIEW_CHARS] + f"\n... ({len(args.code) - PREVIEW_CHARS} more characters)"
            )
        return f"{head}\n{code}"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, PythonArgs)
        timeout, grace = timing(ctx, args.timeout)
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled")
        folder = tempfile.mkdtemp(prefix="agent-tui-python-")
        try:
            script = Path(folder) / f"action_{ctx.action_id}.py"
            script.write_text(args.code, encoding="utf-8")
            argv = [sys.executable, "-I", "-u", "-X", "utf8", str(script)]
            wrapped = sandboxed(argv, ctx, readable=[script])
            outcome = await run_process(
                wrapped,
                ctx,
                env=os.environ,
                timeout=timeout,
                grace=grace,
                sandboxed=wrapped != argv,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return ToolResult(
            ok=outcome.error is None,
            output=outcome.stdout.text().rstrip("\n"),
            data=outcome.data(),
            error=outcome.error,
            transient=outcome.transient,
        )
