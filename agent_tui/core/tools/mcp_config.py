"""The ``[mcp]`` config section: which MCP servers to start and how to treat their tools.

Kept apart from the client so that loading the config never imports the ``mcp`` package.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SERVER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class McpServerSettings(BaseModel):
    """One ``[mcp.servers.NAME]`` table: how to reach the server and how to treat its tools."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    command: str | None = None
    """The program to run; the server speaks MCP over its stdin and stdout."""
    args: list[str] = Field(default_factory=list)
    """The program's arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables; only HOME, LOGNAME, PATH, SHELL, TERM and USER are inherited.
    ``${NAME}`` in a value is replaced by agent-tui's own variable NAME."""
    cwd: Path | None = None
    """The program's working directory (default: the one agent-tui runs in)."""
    url: str | None = None
    """A streamable HTTP endpoint instead of a command, e.g. ``http://127.0.0.1:8000/mcp``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers sent with every request to ``url``, e.g. ``Authorization = "Bearer ${TOKEN}"``
    (``${NAME}`` is replaced by the environment variable NAME)."""
    read_only_tools: list[str] = Field(default_factory=list)
    """Tools without side effects; every other tool of the server is treated as side-effecting."""
    read_only_decision: Literal["allow", "ask"] = "allow"
    """The default decision for the tools in ``read_only_tools``: ``allow``, like the built-in
    reading tools, or ``ask``. Side-effecting tools always ask by default; ``[policy.tools]`` and
    rules override either."""
    timeout: float = Field(60.0, gt=0, le=86400)
    """Seconds one call may take; a call that takes longer fails and is retried."""
    start_timeout: float = Field(30.0, gt=0, le=600)
    """Seconds the server may take to start and list its tools."""
    enabled: bool = True
    """A disabled server is not started and has no tools."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("set exactly one of command (a stdio server) or url (streamable HTTP)")
        if self.command is not None:
            if not self.command.strip():
                raise ValueError("command is empty")
            if self.headers:
                raise ValueError("headers apply to url servers only")
        elif self.args or self.env or self.cwd is not None:
            raise ValueError("args, env and cwd apply to command servers only")
        elif not re.match(r"^https?://[^/\s]+", self.url or ""):
            raise ValueError(f"url must be an http:// or https:// address, not {self.url!r}")
        return self


class McpSettings(BaseModel):
    """The ``[mcp]`` section: the servers whose tools agent-tui may use."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    servers: dict[str, McpServerSettings] = Field(default_factory=dict)
    """Servers by name; their tools are called ``NAME.tool``."""

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServerSettings]) -> dict[str, McpServerSettings]:
        for name in value:
            if not SERVER_NAME.match(name):
                raise ValueError(
                    f"server name {name!r} must start with a letter and contain only letters, "
                    "digits, - and _"
                )
        return value
