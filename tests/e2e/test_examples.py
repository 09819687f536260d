"""The examples and sample themes ship in the package: listed, copied out, started by name."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from agent_tui import bundled
from tests.conftest import CLI, ROOT, cli_env


def run(home: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=cli_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_the_examples_are_package_data() -> None:
    assert bundled.examples_dir() == ROOT / "agent_tui" / "examples"
    assert [e.name for e in bundled.list_examples()] == [
        "repo-health",
        "system-report",
        "workspace-notes",
    ]
    assert [p.stem for p in bundled.sample_themes()] == ["harbour-night", "paper"]


def test_examples_lists_them(home: Path) -> None:
    out = run(home, "examples", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [e["name"] for e in listed["examples"]] == [e.name for e in bundled.list_examples()]
    assert {t["name"] for t in listed["themes"]} == {"harbour-night", "paper"}
    text = run(home, "examples").stdout
    assert "workspace-notes  Workspace notes" in text and "harbour-night" in text


def test_an_example_starts_by_name_and_runs(home: Path, tmp_path: Path) -> None:
    added = run(home, "add", "--recipe", "workspace-notes", "--json")
    assert added.returncode == 0, added.stderr
    goal = json.loads(added.stdout)["id"]
    assert run(home, "worker", "--until-idle").returncode == 0
    shown = json.loads(run(home, "show", str(goal), "--json").stdout)
    assert shown["goal"]["status"] == "completed"
    assert shown["goal"]["recipe_path"] == str(bundled.examples_dir() / "workspace-notes.toml")


@pytest.mark.sqlite_only
def test_a_relative_workspace_of_an_example_by_name_is_the_current_directory(
    home: Path, tmp_path: Path
) -> None:
    here = tmp_path / "my-repo"
    here.mkdir()
    assert run(home, "add", "--recipe", "repo-health.toml", cwd=here).returncode == 0
    with closing(sqlite3.connect(home / "data" / "agent-tui.db")) as conn:
        (workspace,) = conn.execute("SELECT workspace FROM goals").fetchone()
    assert workspace == str(here)


def test_a_file_wins_over_an_example_of_the_same_name(home: Path, tmp_path: Path) -> None:
    (tmp_path / "workspace-notes").write_text(
        'title = "mine"\n[[steps]]\nid = "a"\ntool = "echo"\nargs = { text = "x" }\n'
    )
    assert run(home, "add", "--recipe", "workspace-notes", cwd=tmp_path).returncode == 0
    assert "mine" in run(home, "ls").stdout


def test_an_unknown_name_lists_the_examples(home: Path, tmp_path: Path) -> None:
    out = run(home, "add", "--recipe", "sytem-report", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr == (
        f"agent-tui: error: recipe {tmp_path / 'sytem-report'}: no such file and no example is "
        "called that (examples: repo-health, system-report, workspace-notes)\n"
    )
    assert "agent-tui add --recipe workspace-notes" in run(home, "ls").stdout


def test_copy_writes_the_files_and_never_overwrites(home: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    out = run(home, "examples", "--copy", str(dest))
    assert out.returncode == 0, out.stderr
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.toml"))
    assert copied == [
        "repo-health.toml",
        "system-report.toml",
        "themes/harbour-night.toml",
        "themes/paper.toml",
        "workspace-notes.toml",
    ]
    assert "already holds every example" in run(home, "examples", "--copy", str(dest)).stdout

    (dest / "paper-notes.toml").write_text("mine")
    (dest / "themes" / "paper.toml").write_text("my own theme")
    (dest / "system-report.toml").unlink()
    again = run(home, "examples", "--copy", str(dest))
    assert again.returncode == 2
    assert "themes/paper.toml exists and differs; nothing copied" in again.stderr
    assert not (dest / "system-report.toml").exists()
    assert (dest / "themes" / "paper.toml").read_text() == "my own theme"
