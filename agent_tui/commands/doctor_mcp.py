"""``doctor``'s MCP section: start each enabled server, list its tools, say how to fix one that fails.

Doctor starts the servers itself (as an executor would, each within its ``start_timeout``, all at
once) rather than trusting that a worker did, so a missing command or a dead endpoint is a
problem here, with the fix, before any goal needs the server.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.tools.mcp_config import McpServerSettings


def how(conf: McpServerSettings) -> str:
    """How the server is reached, as the config says: ``command: ...`` or ``url: ...``."""
    if conf.command is not None:
        return "command: " + " ".join([conf.command, *conf.args])
    return f"url: {conf.url}"


def _fix(name: str, conf: McpServerSettings, config_file: Path) -> str:
    """What to do about a server that did not start."""
    table = f"[mcp.servers.{name}] in {config_file}"
    if conf.command is not None and shutil.which(conf.command) is None:
        return (
            f"install {conf.command!r} or correct `command` under {table} "
            "(or set enabled = false there)"
        )
    if conf.url is not None:
        return f"check that {conf.url} is up, or correct `url` under {table}"
    log = paths.state_dir() / f"mcp-{name}.log"
    return f"read {log} for the server's own error, and check {table}"


def check_servers(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each configured server: how it is reached, whether it started, its tools with their side
    effects and default decision (``[policy.tools]``, else the tool's own), or the error and fix."""
    servers = settings.mcp.servers
    report: dict[str, dict[str, Any]] = {
        name: {"how": how(conf), "enabled": conf.enabled} for name, conf in servers.items()
    }
    if not any(conf.enabled for conf in servers.values()):
        return report
    from agent_tui.core.tools.mcp import McpManager

    async def start() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        manager = McpManager(settings.mcp, log_dir=paths.state_dir())
        try:
            tools = await manager.start()
            return manager.status(), tools
        finally:
            await manager.stop()

    status, tools = asyncio.run(start())
    for name, state in status.items():
        entry = report[name]
        entry["ok"] = state["state"] == "running"
        entry["error"] = None if entry["ok"] else state["error"]
        entry["fix"] = None if entry["ok"] else _fix(name, servers[name], paths.config_file())
        entry["tools"] = [
            {
                "name": tool.name,
                "side_effects": tool.side_effects,
                "decision": settings.policy.tools.get(tool.name, tool.default_decision),
            }
            for tool in tools.values()
            if tool.name.partition(".")[0] == name
        ]
    return report


def problems(report: dict[str, dict[str, Any]]) -> list[str]:
    """One line per enabled server that did not start."""
    return [
        f"MCP server {name} cannot start: {entry['error']}; fix: {entry['fix']}"
        for name, entry in report.items()
        if entry["enabled"] and not entry.get("ok", True)
    ]


def lines(report: dict[str, dict[str, Any]]) -> list[str]:
    """The text of the section, one server after another with its tools indented."""
    out: list[str] = []
    for name, entry in report.items():
        head = f"  mcp         {name} ({entry['how']})"
        if not entry["enabled"]:
            out.append(f"{head}: disabled")
        elif not entry["ok"]:
            out.append(f"{head}: ERROR: cannot start: {entry['error']}")
            out.append(f"              fix: {entry['fix']}")
        else:
            tools = entry["tools"]
            out.append(f"{head}: started, {len(tools)} tool(s)")
            width = max((len(t["name"]) for t in tools), default=0)
            for tool in tools:
                effects = "side effects" if tool["side_effects"] else "read-only"
                out.append(
                    f"              {tool['name']:<{width}}  {effects:<12}  {tool['decision']}"
                )
    return out
