"""One session with one MCP server, over stdio or streamable HTTP, held open by its own task.

The ``mcp`` client is built on anyio, whose cancel scopes and task groups must be entered and
left by the same task, so each session lives in a task of its own while calls are made from the
callers' tasks. The transport's incoming stream is relayed so that its end (the stdio process
died, the HTTP stream closed) is noticed at once, even when no call is in flight.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import anyio
import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client import Transport
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from agent_tui import __version__

if TYPE_CHECKING:
    from agent_tui.core.tools.mcp import McpServerSettings

CLOSE_TIMEOUT = 10.0
"""Seconds a session may take to close (the SDK ends a stdio server within about 6 s)."""
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LIST_PAGES = 100
"""Most pages of a server's tool listing read."""
CLIENT_INFO = mcp_types.Implementation(name="agent-tui", version=__version__)


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


def expand(value: str) -> str:
    """``value`` with each ``${NAME}`` replaced by that environment variable (so secrets can stay
    out of the config file); an unset variable is an error."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise StartError(f"environment variable {name} is not set")
        return os.environ[name]

    return VARIABLE.sub(lookup, value)


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
        if self.file.closed:
            return ""
        size = os.fstat(self.file.fileno()).st_size
        start = max(self.mark, size - 4096)
        tail = os.pread(self.file.fileno(), size - start, start).decode("utf-8", "replace")
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    def close(self) -> None:
        self.file.close()


@asynccontextmanager
async def _watched(inner: Transport, lost: asyncio.Event) -> AsyncIterator[tuple[Any, Any]]:
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
            env = {key: expand(value) for key, value in conf.env.items()}
            params = StdioServerParameters(
                command=conf.command, args=list(conf.args), env=env or None, cwd=conf.cwd
            )
            return stdio_client(params, errlog=self.errlog.file)
        assert conf.url is not None
        http = None
        if conf.headers:
            headers = {key: expand(value) for key, value in conf.headers.items()}
            http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0))
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
                    tools = await list_tools(client)
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


async def list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools
