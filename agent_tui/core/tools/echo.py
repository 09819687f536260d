"""The ``echo`` tool: returns its text, for composing templates and trivial steps."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolResult


class EchoArgs(ToolArgs):
    text: str = Field(description="The text to return.")


class EchoTool(Tool):
    """Return the given text as output (no subprocess, so it costs next to nothing)."""

    name = "echo"
    description = "Return the given text unchanged as the output."
    Args = EchoArgs

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, EchoArgs)
        return f"echo {args.text[:200]!r}"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, EchoArgs)
        if args.text:
            ctx.emit("stdout", args.text)
        return ToolResult(ok=True, output=args.text, data={"chars": len(args.text)})
