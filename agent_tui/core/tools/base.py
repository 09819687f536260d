"""What a tool is: a name, an argument model, a side-effect flag and an async ``run``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from agent_tui.core.tool_errors import ToolError, TransientToolError

__all__ = ["ToolError", "TransientToolError"]  # their home is core.tool_errors


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ToolResult:
    """What a tool produced.

    ``output`` is the main text (what ``{{ steps.ID.output }}`` gives), ``data`` the structured
    fields (``{{ steps.ID.result.FIELD }}``), ``ok`` whether the tool did what was asked.
    """

    ok: bool
    output: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    transient: bool = False
    """A failure worth retrying with backoff (the executor retries up to the step's attempts)."""


OutputSink = Callable[[str, str], None]
"""Receives ``(stream, text)`` chunks as a tool produces them."""

SaveDocument = Callable[[str, str, str], tuple[int, int]]
"""Stores an artifact ``(name, content, mime)`` and returns ``(artifact id, version)``."""


@dataclass
class ToolContext:
    """What a running tool may use: its workspace, an output sink, cancellation and its ids."""

    workspace: Path
    emit: OutputSink
    goal_id: int
    step_id: int
    action_id: int
    cancelled: asyncio.Event
    save_document: SaveDocument | None = None
    settings: Any = None
    services: dict[str, Any] = field(default_factory=dict)
    decision: str = "allow"
    """How this action came to run: ``allow`` (the policy let it) or ``ask`` (a person approved
    it in the queue)."""
    decision_reason: str = ""
    """The reason recorded with that decision, as the approvals queue showed it."""
    on_process: Callable[[int], None] | None = None
    """Told the pid of a command's process as soon as it started (the executor records it, so an
    interrupted action whose command outlived it is told apart from one that is gone)."""

    @property
    def approved(self) -> bool:
        """A person approved this action in the queue (a rule or default allowed it otherwise)."""
        return self.decision == "ask"


class Tool:
    """A tool. Subclasses set the class attributes and implement :meth:`run` and :meth:`preview`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[ToolArgs]]
    side_effects: ClassVar[bool] = False
    default_decision: ClassVar[str] = "allow"
    preview_blocks: ClassVar[bool] = False
    """Whether :meth:`preview` does blocking I/O (reads a file): then it is made off the event
    loop, with a deadline. Most previews only format their arguments, made at once."""

    def parse(self, raw: dict[str, Any]) -> ToolArgs:
        """Validate raw arguments into the tool's model (raises pydantic ``ValidationError``)."""
        return self.Args.model_validate(raw)

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        """Exactly what will happen, for the approvals queue and dry runs."""
        return f"{self.name} {args.model_dump_json()}"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        """The JSON schema sent to a model as a function definition."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.Args.model_json_schema(),
        }
