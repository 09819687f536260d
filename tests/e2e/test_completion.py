"""Shell completion: scripts generated from the real parser pass ``bash -n`` (and ``zsh -n``/``fish
-n`` where installed), and bash completes goal and approval ids read from the database."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_tui.cli import _parser
from agent_tui.commands.completion import script
from tests.conftest import CLI, ROOT, cli_env


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_is_valid_shell(shell: str, tmp_path: Path) -> None:
    text = script(_parser(), shell)
    for command in ("add", "approve", "completion", "examples", "--config", "--log-level"):
        assert command in text
    assert "agent-tui completion --ids goals" in text
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed; the script was generated")
    path = tmp_path / f"agent-tui.{shell}"
    path.write_text(text, encoding="utf-8")
    checked = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=cli_env(home), capture_output=True, text=True, check=True
    )


def test_bash_completes_goal_and_approval_ids_from_the_database(home: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'title = "t"\n[[steps]]\nid = "a"\ntool = "shell"\nargs = { command = "true" }\n'
    )
    for _ in range(2):
        _cli(home, "add", "--recipe", str(recipe))
    waiting = subprocess.run(
        [*CLI, "worker", "--until-idle"], env=cli_env(home), capture_output=True, text=True
    )
    assert waiting.returncode == 3  # both shell steps now wait for approval
    assert _cli(home, "completion", "--ids", "goals").stdout.split() == ["2", "1"]
    approvals = _cli(home, "completion", "--ids", "approvals").stdout.split()
    assert len(approvals) == 2

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "agent-tui"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m agent_tui.cli "$@"\n')
    wrapper.chmod(0o755)
    completion = tmp_path / "agent-tui.bash"
    completion.write_text(script(_parser(), "bash"), encoding="utf-8")

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        probe = (
            f"source {completion}\n"
            f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
            f"COMP_CWORD={len(words) - 1}\nCOMP_LINE={line!r}\nCOMP_POINT=${{#COMP_LINE}}\n"
            "_shtab_agent_tui\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
        )
        env = cli_env(home, PATH=f"{bin_dir}:/usr/bin:/bin")
        out = subprocess.run(
            ["bash", "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT
        )
        assert out.returncode == 0, out.stderr
        return sorted(w for w in out.stdout.split() if w)

    assert complete("agent-tui show ") == ["1", "2"]
    assert complete("agent-tui approve ") == sorted(approvals)
    assert "examples" in complete("agent-tui ex")


def test_ids_print_nothing_without_a_database(home: Path) -> None:
    out = _cli(home, "completion", "--ids", "goals")
    assert (out.stdout, out.stderr) == ("", "")
    assert not (home / "data" / "agent-tui.db").exists()


def test_completion_needs_a_shell(home: Path) -> None:
    out = subprocess.run([*CLI, "completion"], env=cli_env(home), capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.startswith("agent-tui: error: completion for which shell?")
