"""The tools of configured MCP servers, named ``SERVER.tool``, usable like the built-in tools.

``[mcp.servers.NAME]`` in the config names a server: a command run over stdio, or the URL of a
streamable HTTP endpoint. :class:`McpManager` connects to every enabled server, turns each of
their tools into a :class:`~agent_tui.core.tools.base.Tool` and keeps the servers running
(restarting one that dies) until it is stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolResult
from agent_tui.core.tools.mcp_config import McpServerSettings, McpSettings

if TYPE_CHECKING:
    import mcp_types

    from agent_tui.core.tools.mcp_session import Server

__all__ = ["McpArgs", "McpManager", "McpServerSettings", "McpSettings", "McpTool"]

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 100
"""Arguments whose JSON fits in this many characters are previewed on one line."""


class McpArgs(ToolArgs):
    """An MCP tool's arguments, already checked against the server's JSON schema."""

    values: dict[str, Any] = Field(default_factory=dict)


class McpTool(Tool):
    """An MCP server's tool. :meth:`McpManager.start` makes one subclass per tool."""

    Args = McpArgs
    side_effects = True
    default_decision = "ask"
    server: ClassVar[str]
    tool: ClassVar[str]
    input_schema: ClassVar[dict[str, Any]]
    function_name: ClassVar[str]
    """The name the model calls it by: ``SERVER__tool`` (model APIs allow no dots)."""

    def __init__(self, manager: McpManager) -> None:
        self._manager = manager
        self._validator = _validator(self.input_schema)

    def parse(self, raw: dict[str, Any]) -> ToolArgs:
        """Check ``raw`` against the server's schema (raises pydantic ``ValidationError``)."""
        if not isinstance(raw, dict):
            raise _invalid(self.name, (), "arguments must be an object", raw)
        if self._validator is not None:
            error = jsonschema.exceptions.best_match(self._validator.iter_errors(raw))
            if error is not None:
                raise _invalid(self.name, *_where(error))
        else:
            required = self.input_schema.get("required")
            for key in required if isinstance(required, list) else ():
                if key not in raw:
                    raise _invalid(self.name, (key,), "Field required", raw)
        return McpArgs(values=raw)

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, McpArgs)
        line = json.dumps(args.values, ensure_ascii=False)
        if len(line) <= PREVIEW_WIDTH:
            return f"{self.name} {line}"
        return f"{self.name}\n{json.dumps(args.values, ensure_ascii=False, indent=2)}"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, McpArgs)
        return await self._manager.call(self.name, args.values, ctx)

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.function_name,
            "description": self.description,
            "parameters": self.input_schema,
        }


def _validator(schema: dict[str, Any]) -> Any:
    """A JSON schema validator for ``schema``; ``None`` when the schema itself is invalid."""
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (jsonschema.exceptions.SchemaError, TypeError):
        return None
    return cls(schema)


def _where(error: Any) -> tuple[tuple[str | int, ...], str, Any]:
    """Location, message and value of a JSON schema error, worded like pydantic's own."""
    loc = tuple(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [k for k in error.validator_value if k not in instance]
        if missing:
            return (*loc, missing[0]), "Field required", instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        extra = [k for k in instance if k not in known]
        if extra:
            return (*loc, extra[0]), "Extra inputs are not permitted", instance[extra[0]]
    return loc, error.message, instance


def _invalid(title: str, loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    detail = InitErrorDetails(
        type=PydanticCustomError("json_schema", "{reason}", {"reason": message}),
        loc=loc,
        input=value,
    )
    return ValidationError.from_exception_data(title, [detail])


def function_name(server: str, tool: str) -> str:
    """``SERVER__tool`` with characters model APIs refuse replaced, at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}__{tool}")[:64]


class McpManager:
    """Starts the configured MCP servers, offers their tools, and stops them.

    ``on_event(kind, message)`` hears about servers starting, failing and being restarted
    (``mcp.started``, ``mcp.error``, ``mcp.restarting``, ``mcp.restarted``). A stdio server's
    stderr goes to ``log_dir/mcp-NAME.log`` when ``log_dir`` is given.
    """

    def __init__(
        self,
        settings: McpSettings,
        *,
        on_event: Callable[[str, str], None] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._log_dir = log_dir
        self._servers: dict[str, Server] = {}
        self._tools: dict[str, Tool] = {}
        self._started = False

    @property
    def tools(self) -> dict[str, Tool]:
        """The tools of every server that started, by ``SERVER.tool`` name."""
        return dict(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    async def start(self) -> dict[str, Tool]:
        """Connect to every enabled server at once and return their tools.

        A server that cannot start is reported through ``on_event`` and left out.
        """
        from agent_tui.core.tools.mcp_session import Server

        if self._started:
            raise RuntimeError("the MCP manager is already started")
        self._started = True
        for name, conf in self.settings.servers.items():
            if conf.enabled:
                self._servers[name] = Server(name, conf, self._event, self._log_dir)
        try:
            await asyncio.gather(*(server.start() for server in self._servers.values()))
        except asyncio.CancelledError:
            await self.stop()
            raise
        for name, server in self._servers.items():
            if server.state != "running":
                continue
            for spec in server.tools:
                tool = self._adapter(name, spec, server.conf)
                self._tools[tool.name] = tool
        return self.tools

    def _adapter(self, server: str, spec: mcp_types.Tool, conf: McpServerSettings) -> Tool:
        """A :class:`McpTool` subclass for ``spec``: a tool listed in ``read_only_tools`` has no
        side effects and defaults to ``read_only_decision`` (allow); any other asks."""
        schema = spec.input_schema if isinstance(spec.input_schema, dict) else {}
        side_effects = spec.name not in conf.read_only_tools
        attrs = {
            "name": f"{server}.{spec.name}",
            "description": spec.description or spec.title or f"{spec.name} (MCP server {server})",
            "side_effects": side_effects,
            "default_decision": "ask" if side_effects else conf.read_only_decision,
            "server": server,
            "tool": spec.name,
            "input_schema": schema or {"type": "object", "properties": {}},
            "function_name": function_name(server, spec.name),
        }
        cls = type(f"McpTool_{server}_{spec.name}", (McpTool,), attrs)
        tool: Tool = cls(self)
        return tool

    async def call(self, name: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Call the tool ``SERVER.tool`` with ``args``, streaming its text through ``ctx.emit``.

        An error result is a failure; a crash of the server mid-call or a timeout is a transient
        failure (the server is restarted); a set ``ctx.cancelled`` cancels the call.
        """
        server_name, _, tool = name.partition(".")
        server = self._servers.get(server_name)
        if server is None or not tool:
            return ToolResult(ok=False, error=f"unknown MCP tool '{name}'")
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled")
        result = await server.call(tool, args, ctx)
        result.data = {"server": server_name, "tool": tool, **result.data}
        return result

    def status(self) -> dict[str, dict[str, Any]]:
        """Each enabled server's ``state`` (running, restarting, failed, stopped), error, tools."""
        return {
            name: {"state": s.state, "error": s.error, "tools": [t.name for t in s.tools]}
            for name, s in self._servers.items()
        }

    async def stop(self) -> None:
        """Close every session and end every stdio server process."""
        await asyncio.gather(*(server.stop() for server in self._servers.values()))

    async def __aenter__(self) -> McpManager:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _event(self, kind: str, message: str) -> None:
        (log.warning if kind == "mcp.error" else log.info)("%s", message)
        if self._on_event is not None:
            try:
                self._on_event(kind, message)
            except Exception:
                log.exception("the MCP event sink failed")
