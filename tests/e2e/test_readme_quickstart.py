"""The README's Quick start, run line by line exactly as written, and every comment checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, cli_env


def quick_start_lines() -> list[str]:
    """The command lines of the first ``sh`` block under "## Quick start"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quick start") :]
    block = section[section.index("```sh\n") + len("```sh\n") :]
    block = block[: block.index("```")]
    return [line for line in block.splitlines() if line.strip()]


def _shim(tmp_path: Path) -> Path:
    """A directory whose ``agent-tui`` runs this checkout with this Python."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "agent-tui"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m agent_tui.cli "$@"\n')
    script.chmod(0o755)
    return bin_dir


def test_the_quick_start_does_what_its_comments_say(tmp_path: Path, home: Path) -> None:
    env = cli_env(home, PATH=f"{_shim(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    runs: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    for line in quick_start_lines():
        out = subprocess.run(
            ["bash", "-c", line],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in out.stderr, (line, out.stderr)
        claimed = re.search(r"exits (\d+)", line.partition("#")[2])
        expected = int(claimed.group(1)) if claimed else 0
        assert out.returncode == expected, (line, out.returncode, out.stderr)
        runs.append((line, out))
    by_command = {line.partition("#")[0].strip(): out for line, out in runs}

    assert "system-report" in by_command["agent-tui examples"].stdout
    assert by_command["agent-tui add --recipe system-report"].stdout.strip() == "1"
    blocked = runs[2][1]
    assert "goal 1: 5 approval(s) wait" in blocked.stderr
    assert by_command["agent-tui approvals"].stdout.count("decide: agent-tui approve") == 5
    approved = by_command["agent-tui approve --goal 1 --yes"].stdout
    assert [f"approval {n}: approved" for n in range(1, 6)] == [
        line for line in approved.splitlines() if line.startswith("approval ")
    ]
    done = runs[5][1]
    assert "goal 'System report' completed" in done.stderr and "wait" not in done.stderr
    shown = by_command["agent-tui show 1"].stdout
    assert "status    completed" in shown
    assert "document: System report" in shown and "## Kernel" in shown
    assert "Linux" in shown.split("document: System report")[1]  # the text, not only its name
    doc = by_command['agent-tui show 1 --doc "System report"'].stdout
    assert doc.startswith("# System report\n") and "## Top 10 processes by memory" in doc
