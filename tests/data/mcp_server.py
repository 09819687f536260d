"""A small real MCP server for the tests, built with the ``mcp`` package's ``MCPServer``.

Run over stdio (the default) or streamable HTTP (``--http PORT``). Its tools cover what the
client must handle: plain results, a side effect in its working directory, an error result, a
process that dies mid-call, a slow call and progress reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("agent-tui-test", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def write_note(path: str, text: str) -> str:
    """Write ``text`` to ``path`` in the server's working directory."""
    target = Path(path)
    target.write_text(text, encoding="utf-8")
    return f"wrote {len(text)} characters to {target}"


@server.tool()
def fail(message: str = "this tool always fails") -> str:
    """Fail with an error result."""
    raise ToolError(message)


@server.tool()
def crash() -> str:
    """End the server process at once, without answering."""
    sys.stderr.write("crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool()
def write_or_crash(path: str, text: str) -> str:
    """The first call ends the process (leaving ``PATH.crashed``); later calls write the file."""
    marker = Path(path + ".crashed")
    if not marker.exists():
        marker.write_text("", encoding="utf-8")
        sys.stderr.write("crashing before the write\n")
        sys.stderr.flush()
        os._exit(3)
    Path(path).write_text(text, encoding="utf-8")
    return f"wrote {path}"


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await anyio.sleep(seconds)
    return f"slept {seconds:g} s"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable of the server, or an empty string."""
    return os.environ.get(name, "")


@server.tool()
async def count(n: int, ctx: Context) -> str:
    """Report progress ``n`` times, then answer."""
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, f"step {i}")
    return f"counted to {n}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP")
    options = parser.parse_args()
    if options.http:
        server.run("streamable-http", host="127.0.0.1", port=options.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
