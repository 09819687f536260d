"""One configured MCP server: started once, restarted after a crash, and its tools' calls.

A server whose session ends unexpectedly is restarted (a ``url`` server reconnected) with a
growing delay, at most :data:`MAX_RESTARTS` times within :data:`RESTART_WINDOW` seconds; a call
that was in flight fails as transient, and calls made during a restart wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx2
import mcp_types
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from agent_tui.core.tools.base import ToolContext, ToolResult
from agent_tui.core.tools.mcp_connection import CLOSE_TIMEOUT, Connection, ErrLog, describe

if TYPE_CHECKING:
    from agent_tui.core.tools.mcp import McpServerSettings

EventSink = Callable[[str, str], None]
"""Receives ``(kind, message)``: ``mcp.started``, ``mcp.error``, ``mcp.restarting``, ``mcp.restarted``."""

MAX_RESTARTS = 3
"""Restarts allowed within :data:`RESTART_WINDOW`; past that a server stays down for a while."""
RESTART_WINDOW = 60.0
RESTART_DELAY = 0.5
"""Seconds before the first restart, doubled for each further restart in the window."""
T = TypeVar("T")


async def until_cancelled(work: Coroutine[Any, Any, T], cancelled: asyncio.Event) -> T | None:
    """Await ``work``; ``None`` if ``cancelled`` is set first (``work`` is then cancelled)."""
    with anyio.CancelScope() as scope:
        watcher = asyncio.create_task(cancelled.wait())
        watcher.add_done_callback(lambda t: None if t.cancelled() else scope.cancel())
        try:
            return await work
        finally:
            watcher.cancel()
    return None


class Server:
    """A configured server: started once, restarted (bounded, with backoff) when it dies."""

    def __init__(
        self, name: str, conf: McpServerSettings, on_event: EventSink, log_dir: Path | None
    ) -> None:
        self.name = name
        self.conf = conf
        self.tools: list[mcp_types.Tool] = []
        self.state = "stopped"
        """``stopped``, ``running``, ``restarting`` or ``failed``."""
        self.error: str | None = None
        self._emit = on_event
        self._errlog = ErrLog(name, log_dir if conf.command is not None else None)
        self._conn: Connection | None = None
        self._restarts: deque[float] = deque()
        self._recovery: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._settled = asyncio.Event()
        self._stopping = asyncio.Event()

    async def start(self) -> bool:
        """Connect and list the tools; a failure is reported, never raised."""
        try:
            await self._open()
        except Exception as exc:
            self.state, self.error = "failed", describe(exc)
            self._emit("mcp.error", f"server {self.name} failed to start: {self.error}")
            return False
        self._emit("mcp.started", f"server {self.name} started with {len(self.tools)} tools")
        return True

    async def _open(self) -> None:
        conn = Connection(self.conf, self._errlog)
        self._conn = conn
        self.tools = await conn.open()
        self.state, self.error = "running", None
        self._settled.set()
        watcher = asyncio.create_task(self._watch(conn))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, conn: Connection) -> None:
        await conn.lost.wait()
        self._lost(conn, conn.reason())

    def _lost(self, conn: Connection | None, reason: str) -> None:
        """Start recovering from ``conn`` ending, unless stopping or already recovering."""
        if self._stopping.is_set() or conn is not self._conn or self._recovery is not None:
            return
        self.state, self.error = "restarting", reason
        self._settled.clear()
        self._recovery = asyncio.create_task(self._recover(conn, reason))

    async def _recover(self, conn: Connection | None, reason: str) -> None:
        try:
            if conn is not None:
                await conn.close()
            while not self._stopping.is_set():
                now = time.monotonic()
                if self._recent_restarts() >= MAX_RESTARTS:
                    self.state, self.error = "failed", reason
                    self._emit(
                        "mcp.error",
                        f"server {self.name} stopped {len(self._restarts) + 1} times within "
                        f"{RESTART_WINDOW:g} s; not {self._verb}ing it now ({reason})",
                    )
                    return
                delay = RESTART_DELAY * 2 ** len(self._restarts)
                self._restarts.append(now)
                self._emit(
                    "mcp.restarting",
                    f"server {self.name} stopped ({reason}); {self._verb}ing in {delay:g} s",
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    return
                try:
                    await self._open()
                except Exception as exc:
                    reason = describe(exc)
                    self._emit("mcp.error", f"server {self.name} failed to {self._verb}: {reason}")
                    continue
                self._emit(
                    "mcp.restarted", f"server {self.name} {self._verb}ed ({len(self.tools)} tools)"
                )
                return
        finally:
            self._recovery = None
            if self.state == "restarting":
                self.state = "stopped" if self._stopping.is_set() else "failed"
            self._settled.set()

    def _recent_restarts(self) -> int:
        """Restarts within the last :data:`RESTART_WINDOW` seconds."""
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW:
            self._restarts.popleft()
        return len(self._restarts)

    async def _client(self, ctx: ToolContext) -> Client | ToolResult:
        """The live client, after waiting out a restart; a failed result if the server is down.

        A server given up on is tried again once the restart window has room.
        """
        if (
            self.state == "failed"
            and self._recovery is None
            and self._conn is not None
            and self._recent_restarts() < MAX_RESTARTS
        ):
            self._lost(self._conn, self.error or "down")
        if self.state == "restarting":
            wait = self.conf.start_timeout + RESTART_DELAY * 2**MAX_RESTARTS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until_cancelled(self._settled.wait(), ctx.cancelled), wait)
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled")
        client = self._conn.client if self._conn is not None else None
        if self.state == "running" and client is not None:
            return client
        state = {"failed": "down", "restarting": f"still {self._verb}ing"}.get(
            self.state, "stopped"
        )
        why = f"MCP server {self.name} is {state}: {self.error or 'not connected'}"
        return ToolResult(ok=False, error=why, transient=self.state == "restarting")

    async def call(self, tool: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Call ``tool``; a crash or a timeout is a transient failure, an error result is not."""
        client = await self._client(ctx)
        if isinstance(client, ToolResult):
            return client
        conn = self._conn

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            of = f"/{total:g}" if total is not None else ""
            ctx.emit("stderr", f"[{progress:g}{of}] {message or ''}".rstrip() + "\n")

        timeout = self.conf.timeout
        try:
            work = client.call_tool(
                tool, args, read_timeout_seconds=timeout, progress_callback=progress
            )
            result = await until_cancelled(work, ctx.cancelled)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return ToolResult(ok=False, error=f"timed out after {timeout:g} s", transient=True)
            if exc.code != CONNECTION_CLOSED:
                return ToolResult(ok=False, error=f"MCP error {exc.code}: {exc.message}")
            return self._broken(conn, "connection closed")
        except (
            OSError,
            httpx2.HTTPError,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ) as e:
            return self._broken(conn, describe(e))
        except Exception as exc:
            return ToolResult(ok=False, error=f"MCP server {self.name}: {describe(exc)}")
        if result is None:
            return ToolResult(ok=False, error="cancelled")
        return to_result(result, ctx)

    def _broken(self, conn: Connection | None, why: str) -> ToolResult:
        if conn is not None:
            conn.lost.set()
            self._lost(conn, conn.reason())
            why = conn.reason() if self.conf.command is not None else why
        error = f"MCP server {self.name} stopped during the call ({why})"
        if not self._stopping.is_set():
            error += f"; {self._verb}ing it"
        return ToolResult(ok=False, error=error, data={"interrupted": True}, transient=True)

    @property
    def _verb(self) -> str:
        return "restart" if self.conf.command is not None else "reconnect"

    async def stop(self) -> None:
        """Stop restarting, close the session and end the server process."""
        self._stopping.set()
        if self._conn is not None:
            await self._conn.close()
        if self._recovery is not None:
            await asyncio.wait({self._recovery}, timeout=CLOSE_TIMEOUT)
        if self._conn is not None:
            await self._conn.close()
        self.state = "stopped"
        self._errlog.close()


def to_result(result: mcp_types.CallToolResult, ctx: ToolContext) -> ToolResult:
    """A tool result from an MCP one: text content as output (streamed), ``isError`` as failure."""
    text = "\n".join(t for t in (_block_text(b) for b in result.content) if t)
    if text:
        ctx.emit("stdout", text if text.endswith("\n") else text + "\n")
    data: dict[str, Any] = {"is_error": result.is_error}
    structured = result.structured_content
    if structured is not None:
        data["structured"] = structured
        if isinstance(structured, dict):
            data.update({k: v for k, v in structured.items() if k not in data})
    if result.is_error:
        return ToolResult(ok=False, output=text, data=data, error=text or "the tool failed")
    return ToolResult(ok=True, output=text, data=data)


def _block_text(block: mcp_types.ContentBlock) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        return f"[{block.type} {block.mime_type}, {len(block.data) * 3 // 4} bytes]"
    if isinstance(block, mcp_types.EmbeddedResource):
        res = block.resource
        if isinstance(res, mcp_types.TextResourceContents):
            return res.text
        return f"[resource {res.uri} {res.mime_type or ''}]".replace(" ]", "]")
    if isinstance(block, mcp_types.ResourceLink):
        return f"[resource link {block.uri}]"
    return ""
