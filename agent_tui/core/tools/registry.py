"""The built-in tools by name."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config reads BUILTIN_NAMES: this module stays light
    from agent_tui.core.tools.base import Tool

BUILTIN_NAMES = frozenset(
    {
        "shell",
        "python",
        "read_file",
        "write_file",
        "list_files",
        "web_fetch",
        "web_search",
        "write_document",
        "echo",
    }
)
"""The built-in tools' names, known without importing their modules (a test keeps it true)."""


@cache
def builtin_tools() -> dict[str, Tool]:
    """Every built-in tool, keyed by name."""
    from agent_tui.core.tools.echo import EchoTool
    from agent_tui.core.tools.files import ListFilesTool, ReadFileTool, WriteFileTool
    from agent_tui.core.tools.python_tool import PythonTool
    from agent_tui.core.tools.shell import ShellTool
    from agent_tui.core.tools.web_fetch import WebFetchTool
    from agent_tui.core.tools.web_search import WebSearchTool
    from agent_tui.core.tools.write_document import WriteDocumentTool

    tools: list[Tool] = [
        ShellTool(),
        PythonTool(),
        ReadFileTool(),
        WriteFileTool(),
        ListFilesTool(),
        WebFetchTool(),
        WebSearchTool(),
        WriteDocumentTool(),
        EchoTool(),
    ]
    return {tool.name: tool for tool in tools}


def get_tool(name: str) -> Tool | None:
    return builtin_tools().get(name)
