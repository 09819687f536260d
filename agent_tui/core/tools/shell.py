"""The ``shell`` tool: one command in its own process group, output streamed as it arrives."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from pydantic import Field, field_validator

from agent_tui.core.sandbox import sandboxed
from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolResult
from agent_tui.core.tools.process import DATA_TAIL, OUTPUT_TAIL, run_process, timing

__all__ = ["DATA_TAIL", "OUTPUT_TAIL", "ShellArgs", "ShellTool"]


class ShellArgs(ToolArgs):
    command: str = Field(min_length=1, description="The command line, run with bash -c.")
    timeout: float | None = Field(
        None, gt=0, le=86400, description="Seconds before the command is killed."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for the command."
    )

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("command is empty")
        if "\x00" in value:
            raise ValueError("command contains a NUL byte")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or "=" in key or "\x00" in key or "\x00" in item:
                raise ValueError(f"invalid environment variable {key!r}")
        return value


class ShellTool(Tool):
    """Run a shell command in the workspace."""

    name = "shell"
    description = (
        "Run a shell command (bash -c) in the workspace and return its standard output. "
        "Background processes are ended when the command finishes."
    )
    Args = ShellArgs
    side_effects = True
    default_decision = "ask"

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, ShellArgs)
        text = f"$ {args.command}"
        if args.timeout is not None:
            text += f"  (timeout {args.timeout:g} s)"
        if args.env:
            text += "\nenv: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in args.env.items())
        return text

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, ShellArgs)
        timeout, grace = timing(ctx, args.timeout)
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled", data={"command": args.command})
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        argv = [shell, "-c", args.command]
        wrapped = sandboxed(argv, ctx)
        outcome = await run_process(
            wrapped,
            ctx,
            env={**os.environ, **args.env},
            timeout=timeout,
            grace=grace,
            sandboxed=wrapped != argv,
        )
        data = {**outcome.data(), "command": args.command}
        return ToolResult(
            ok=outcome.error is None,
            output=outcome.stdout.text().rstrip("\n"),
            data=data,
            error=outcome.error,
            transient=outcome.transient,
        )
