"""One configured MCP server: its live session, its restarts after a crash, and its calls.

The ``mcp`` client is built on anyio, whose cancel scopes and task groups must be entered and
left by the same task, so every session is held open by a task of its own (:class:`Connection`)
and calls are made from the callers' tasks. A transport whose stream ends (the stdio process
died) is noticed at once, so a server is restarted even when no call was in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

import anyio
import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client._transport import Transport, TransportStreams
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from agent_tui.core.tools.base import ToolContext, ToolResult

if TYPE_CHECKING:
    from agent_tui.core.tools.mcp import McpServerSettings

log = logging.getLogger(__name__)

EventSink = Callable[[str, str], None]
"""Receives ``(kind, message)``: ``mcp.started``, ``mcp.error``, ``mcp.restarting``, ``mcp.restarted``."""

MAX_RESTARTS = 3
"""Restarts allowed within :data:`RESTART_WINDOW`; past that a server stays down for a while."""
RESTART_WINDOW = 60.0
RESTART_DELAY = 0.5
"""Seconds before the first restart, doubled for each further restart in the window."""
CLOSE_TIMEOUT = 10.0
"""Seconds a session may take to close (the SDK ends a stdio server within about 6 s)."""
LIST_PAGES = 100
CLIENT_INFO = mcp_types.Implementation(name="agent-tui", version="0.1.0")
T = TypeVar("T")


class StartError(Exception):
    """A server could not be connected to; the message says why."""


def describe(exc: BaseException) -> str:
    """A one-line reason for an exception from the SDK, a transport or the operating system."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError | StartError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ErrLog:
    """Where a stdio server's stderr goes: ``mcp-NAME.log`` in a log directory, else a temp file."""

    def __init__(self, name: str, log_dir: Path | None) -> None:
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.file: TextIO = open(log_dir / f"mcp-{name}.log", "a+", encoding="utf-8")  # noqa: SIM115
        else:
            self.file = cast(TextIO, tempfile.TemporaryFile("w+", encoding="utf-8"))  # noqa: SIM115
        self.mark = 0

    def begin(self) -> None:
        """Start a new run: :meth:`last_line` looks only at what is written from now on."""
        self.mark = os.fstat(self.file.fileno()).st_size

    def last_line(self) -> str:
        """The last non-empty line this run wrote, at most 300 characters."""
        size = os.fstat(self.file.fileno()).st_size
        start = max(self.mark, size - 4096)
        tail = os.pread(self.file.fileno(), size - start, start).decode("utf-8", "replace")
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    def close(self) -> None:
        self.file.close()


@asynccontextmanager
async def _watched(inner: Transport, lost: asyncio.Event) -> AsyncIterator[TransportStreams]:
    """``inner`` with its incoming stream relayed, setting ``lost`` the moment it ends."""
    async with inner as (read, write):
        relay, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            try:
                async with relay:
                    async for item in read:
                        await relay.send(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                pass
            finally:
                lost.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield receive, write
            finally:
                tg.cancel_scope.cancel()


class Connection:
    """One session with a server, held open by its own task until :meth:`close`."""

    def __init__(self, conf: McpServerSettings, errlog: ErrLog) -> None:
        self.conf = conf
        self.errlog = errlog
        self.lost = asyncio.Event()
        """Set when the session ended, for whatever reason."""
        self.client: Client | None = None
        self._close = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[list[mcp_types.Tool]] | None = None

    async def open(self) -> list[mcp_types.Tool]:
        """Start the session and list the server's tools (raises :class:`StartError`)."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[list[mcp_types.Tool]] = loop.create_future()
        ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._ready = ready
        self.errlog.begin()
        self._task = asyncio.create_task(self._hold(ready))
        return await asyncio.shield(ready)

    def _transport(self, stack: AsyncExitStack) -> Transport:
        conf = self.conf
        if conf.command is not None:
            params = StdioServerParameters(
                command=conf.command, args=list(conf.args), env=dict(conf.env) or None, cwd=conf.cwd
            )
            return stdio_client(params, errlog=self.errlog.file)
        assert conf.url is not None
        http = None
        if conf.headers:
            http = httpx2.AsyncClient(
                headers=dict(conf.headers), timeout=httpx2.Timeout(30.0, read=300.0)
            )
            stack.push_async_callback(http.aclose)
        return streamable_http_client(conf.url, http_client=http)

    async def _hold(self, ready: asyncio.Future[list[mcp_types.Tool]]) -> None:
        error: BaseException | None = None
        try:
            with anyio.CancelScope(
                deadline=anyio.current_time() + self.conf.start_timeout
            ) as scope:
                self._scope = scope
                async with AsyncExitStack() as stack:
                    transport = _watched(self._transport(stack), self.lost)
                    client = Client(transport, cache=None, client_info=CLIENT_INFO)
                    await stack.enter_async_context(client)
                    tools = await _list_tools(client)
                    scope.deadline = math.inf
                    self.client = client
                    ready.set_result(tools)
                    await self._close.wait()
        except Exception as exc:
            error = exc
        finally:
            self.client = None
            self.lost.set()
            if not ready.done():
                ready.set_exception(StartError(self._why(error)))

    def _why(self, error: BaseException | None) -> str:
        if error is not None:
            reason = describe(error)
        elif self._close.is_set():
            reason = "stopped while starting"
        else:
            reason = f"no answer within {self.conf.start_timeout:g} s"
        last = self.errlog.last_line()
        return f"{reason} (stderr: {last})" if last else reason

    def reason(self) -> str:
        """Why the session ended, as far as can be told: the server's last stderr line."""
        last = self.errlog.last_line()
        return f"connection lost; stderr: {last}" if last else "connection lost"

    async def close(self) -> None:
        """End the session and, for stdio, the server process (stdin closed, then signals)."""
        self._close.set()
        if self._scope is not None and self._ready is not None and not self._ready.done():
            self._scope.cancel()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT)
        if not done and self._scope is not None:
            self._scope.cancel()
            await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT)


async def _list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


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
                    "mcp.restarted", f"server {self.name} restarted ({len(self.tools)} tools)"
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
        why = f"MCP server {self.name} is {self.state}: {self.error or 'not connected'}"
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
        return ToolResult(ok=False, error=error, transient=True)

    @property
    def _verb(self) -> str:
        return "restart" if self.conf.command is not None else "reconnect"

    async def stop(self) -> None:
        """Stop restarting, close the session and end the server process."""
        self._stopping.set()
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
