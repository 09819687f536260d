"""The ``write_document`` tool: creates an artifact, or a new version of one with the same name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolResult


class WriteDocumentArgs(ToolArgs):
    name: str = Field(min_length=1, max_length=200, description="The document's title.")
    content: str = Field(description="The document text.")
    mime: Literal["text/markdown", "text/plain"] = Field(
        "text/markdown", description="The content type."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name is blank")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("name contains a control character")
        return value


class WriteDocumentTool(Tool):
    """Save a document for the user; writing the same name again adds a version."""

    name = "write_document"
    description = (
        "Save a document (Markdown or plain text) for the user to read. "
        "Writing a document with an existing name creates a new version of it."
    )
    Args = WriteDocumentArgs

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, WriteDocumentArgs)
        return f"save document {args.name!r} ({args.mime}, {len(args.content)} characters)"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WriteDocumentArgs)
        if ctx.save_document is None:
            raise ToolError("documents are not available here")
        artifact_id, version = ctx.save_document(args.name, args.content, args.mime)
        return ToolResult(
            ok=True,
            output=f"saved document '{args.name}' (version {version})",
            data={"artifact_id": artifact_id, "version": version, "name": args.name},
        )
