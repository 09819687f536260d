"""The tools an executor runs: the built-in ones and, once their servers have started, MCP's."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.core.tools.base import Tool
from agent_tui.core.tools.registry import builtin_tools, get_tool

if TYPE_CHECKING:
    from agent_tui.core.tools.mcp import McpManager

log = logging.getLogger("agent_tui.executor")


class Toolbox:
    """Finds a tool by the name a recipe or a model calls it by; starts and stops MCP servers."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.mcp: McpManager | None = None
        self._mcp_ready: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Start the enabled MCP servers in the background (a tool call waits for them)."""
        if not any(server.enabled for server in self.settings.mcp.servers.values()):
            return
        from agent_tui.core.tools.mcp import McpManager

        self.mcp = McpManager(
            self.settings.mcp, on_event=self._mcp_event, log_dir=paths.state_dir()
        )
        self._mcp_ready = asyncio.create_task(self.mcp.start(), name="mcp-start")

    async def stop(self) -> None:
        if self.mcp is None:
            return
        try:
            await self.mcp.stop()
        except Exception:
            log.exception("could not stop the MCP servers")

    async def tool(self, name: str) -> Tool | None:
        """A built-in tool, or an MCP server's (``SERVER.tool``) once the servers have started."""
        builtin = get_tool(name)
        if builtin is not None or "." not in name or self.mcp is None:
            return builtin
        if self._mcp_ready is not None:
            await asyncio.wait({self._mcp_ready})
        return self.mcp.get(name)

    async def tools(self) -> dict[str, Tool]:
        """Every tool this executor can run, keyed by the name a model calls it by."""
        every = dict(builtin_tools())
        if self.mcp is not None:
            if self._mcp_ready is not None:
                await asyncio.wait({self._mcp_ready})
            every.update(self.mcp.tools)
        return {t.schema()["name"]: t for t in every.values()}

    def _mcp_event(self, kind: str, message: str) -> None:
        try:
            with self.store.write() as tx:
                tx.event(kind, message)
        except Exception:
            log.exception("could not record an MCP event")
