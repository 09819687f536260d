"""``agent-tui doctor`` starts each MCP server, lists its tools and reports one that cannot start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CLI, cli_env

SERVER = str(Path(__file__).resolve().parent.parent / "data" / "mcp_server.py")


def _config(home: Path, text: str) -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")


def _doctor(home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "doctor", *extra],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


GOOD = f"""
[mcp.servers.srv]
command = "{sys.executable}"
args = ["{SERVER}"]
read_only_tools = ["echo", "add"]

[policy.tools]
"srv.add" = "ask"
"""


def test_doctor_lists_a_servers_tools_with_their_decisions(home: Path) -> None:
    _config(home, GOOD)
    result = _doctor(home, "--json")
    report = json.loads(result.stdout)
    srv = report["mcp_servers"]["srv"]
    assert srv["ok"] and srv["error"] is None
    tools = {t["name"]: t for t in srv["tools"]}
    assert tools["srv.echo"] == {"name": "srv.echo", "side_effects": False, "decision": "allow"}
    assert tools["srv.add"]["decision"] == "ask"  # [policy.tools] says otherwise
    assert tools["srv.write_note"] == {
        "name": "srv.write_note",
        "side_effects": True,
        "decision": "ask",
    }
    assert not any("MCP" in p for p in report["problems"])
    text = _doctor(home).stdout
    assert "srv (command: " in text and "started, " in text
    echo_line = next(line for line in text.splitlines() if "srv.echo " in line)
    assert "read-only" in echo_line and echo_line.rstrip().endswith("allow")
    note_line = next(line for line in text.splitlines() if "srv.write_note " in line)
    assert "side effects" in note_line and note_line.rstrip().endswith("ask")


def test_doctor_reports_a_server_whose_command_is_missing(home: Path) -> None:
    _config(
        home,
        GOOD
        + """
[mcp.servers.gone]
command = "agent-tui-no-such-mcp-server"
start_timeout = 5
""",
    )
    result = _doctor(home, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert not report["ok"]
    [problem] = [p for p in report["problems"] if "MCP" in p]
    assert problem.startswith("MCP server gone cannot start: ")
    gone = report["mcp_servers"]["gone"]
    assert gone["ok"] is False and gone["tools"] == []
    assert "agent-tui-no-such-mcp-server" in gone["error"]
    assert "install 'agent-tui-no-such-mcp-server'" in gone["fix"]
    assert "[mcp.servers.gone]" in gone["fix"]
    assert report["mcp_servers"]["srv"]["ok"]  # the other server still starts
    result = _doctor(home)
    assert result.returncode == 1 and "all good" not in result.stdout
    assert "gone (command: agent-tui-no-such-mcp-server): ERROR: cannot start" in result.stdout
    assert "fix: install 'agent-tui-no-such-mcp-server'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_doctor_shows_a_disabled_server_without_starting_it(home: Path) -> None:
    _config(home, GOOD.replace("[policy.tools]", "enabled = false\n\n[policy.tools]"))
    report = json.loads(_doctor(home, "--json").stdout)
    assert report["mcp_servers"]["srv"] == {
        "how": f"command: {sys.executable} {SERVER}",
        "enabled": False,
    }
