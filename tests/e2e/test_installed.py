"""The package as a user installs it: the wheel built from this checkout, installed into a fresh
venv without the dev extras, then driven only through the installed ``agent-tui`` from another
directory, so nothing of the checkout can be imported. It runs the README's Quick start line by line.

uv (a dev dependency) makes the venv and installs, with the exact versions of requirements.lock: a
fresh machine downloads them once, later runs take them from uv's cache. The resolution checks ask
the package index whether the ranges of ``pyproject.toml`` resolve beside other Textual apps.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
DIST = "agent-tui-mission"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    work: Path
    """A directory outside the checkout, the current directory of every command."""

    def env(self, home: Path, bin_dir: Path | None = None) -> dict[str, str]:
        keep = {"HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "LOGNAME", "SHELL"}
        env = {k: v for k, v in os.environ.items() if k in keep}
        env["PATH"] = f"{bin_dir or self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
        env["AGENT_TUI_HOME"] = str(home)
        return env

    def run(
        self,
        home: Path,
        command: str | list[str],
        bin_dir: Path | None = None,
        expect: int = 0,
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            command,
            shell=isinstance(command, str),
            executable="/bin/bash" if isinstance(command, str) else None,
            env=self.env(home, bin_dir),
            cwd=self.work,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == expect, f"{command}: {out.stderr}"
        assert "Traceback" not in out.stderr
        return out


def uv(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uv", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("installed")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(base / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (base / "dist").glob("*.whl")
    venv = base / "venv"
    made = uv("venv", "-q", "--python", sys.executable, str(venv))
    assert made.returncode == 0, made.stderr
    got = uv(
        "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel),
        "-c", str(ROOT / "requirements.lock"),
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    work = base / "work"
    work.mkdir()
    yield Installed(wheel, venv, work)


def test_the_wheel_holds_the_package_data_and_metadata(installed: Installed) -> None:
    import zipfile

    names = zipfile.ZipFile(installed.wheel).namelist()
    for path in (
        "agent_tui/examples/system-report.toml",
        "agent_tui/themes/paper.toml",
        "agent_tui/ui/screens/main.tcss",
        "agent_tui/py.typed",
    ):
        assert path in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(installed.wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    )
    text = meta.decode()
    assert f"Name: {DIST}\n" in text and "License-Expression: MIT" in text
    assert "Project-URL: Source" in text and "Classifier: Environment :: Console" in text
    pins = re.findall(r"^Requires-Dist: ([^;\n]+)$", text, flags=re.M)
    assert pins and not [p for p in pins if "==" in p], "runtime dependencies are ranges"
    assert "](screenshots/" not in text, "README images must be absolute links"


def test_nothing_comes_from_the_checkout_and_the_version_matches(
    installed: Installed, tmp_path: Path
) -> None:
    python = str(installed.venv / "bin" / "python")
    probe = (
        "import importlib.metadata as m, agent_tui; "
        f"print(agent_tui.__file__); print(m.version('{DIST}'))"
    )
    where, version = installed.run(tmp_path, [python, "-c", probe]).stdout.split()
    assert where.startswith(str(installed.venv))
    assert installed.run(tmp_path, "agent-tui --version").stdout == f"agent-tui {version}\n"
    dev = subprocess.run([python, "-c", "import pytest"], capture_output=True)
    assert dev.returncode != 0, "the dev extras are not installed"


def _quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def _exit_code(line: str) -> int:
    """The exit code a Quick start line's comment promises (``exits 3``), else 0."""
    claimed = re.search(r"exits (\d+)", line.partition("#")[2])
    return int(claimed.group(1)) if claimed else 0


def test_the_readme_quick_start_runs_against_the_installed_package(
    installed: Installed, tmp_path: Path
) -> None:
    lines = _quick_start()
    assert any("--recipe system-report" in line for line in lines)
    outputs = [installed.run(tmp_path, line, expect=_exit_code(line)) for line in lines]
    listed = outputs[0].stdout
    assert "system-report" in listed and "workspace-notes" in listed
    shown = json.loads(installed.run(tmp_path, "agent-tui show 1 --json").stdout)
    assert shown["goal"]["status"] == "completed", shown["goal"]
    assert shown["goal"]["recipe_path"].startswith(str(installed.venv))
    assert [a["name"] for a in shown["artifacts"]] == ["System report"]


def test_the_examples_are_found_by_name_and_listed_by_the_welcome(
    installed: Installed, tmp_path: Path
) -> None:
    listed = json.loads(installed.run(tmp_path, "agent-tui examples --json").stdout)
    names = [e["name"] for e in listed["examples"]]
    assert names == ["repo-health", "system-report", "workspace-notes"]
    assert all(e["path"].startswith(str(installed.venv)) for e in listed["examples"])
    copied = installed.run(tmp_path, f"agent-tui examples --copy {tmp_path / 'mine'}").stdout
    assert "themes/paper.toml" in copied
    welcome = (
        "import asyncio\n"
        "from agent_tui import paths\n"
        "from agent_tui.config import load_settings\n"
        "from agent_tui.core.store import Store\n"
        "from agent_tui.ui.app import create_app\n"
        "from agent_tui.ui.screens.welcome import WelcomeScreen\n"
        "from textual.widgets import OptionList, Static\n"
        "async def main():\n"
        "    app = create_app(Store(paths.db_path()), load_settings(), executor=False)\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "        assert isinstance(app.screen, WelcomeScreen), app.screen\n"
        "        print(app.screen.query_one('#welcome-examples-heading', Static).content)\n"
        "        print(app.screen.query_one('#welcome-examples', OptionList).option_count)\n"
        "asyncio.run(main())\n"
    )
    out = installed.run(tmp_path, [str(installed.venv / "bin" / "python"), "-c", welcome])
    heading, count = out.stdout.strip().rsplit("\n", 1)
    assert "recipes that ship with agent-tui" in heading
    assert int(count) == len(names)


def test_completion_scripts_come_from_the_installed_command(
    installed: Installed, tmp_path: Path
) -> None:
    script = installed.run(tmp_path, "agent-tui completion bash").stdout
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_uv_tool_install_puts_the_command_on_the_path(installed: Installed, tmp_path: Path) -> None:
    tools, bin_dir = tmp_path / "tools", tmp_path / "bin"
    env = {**os.environ, "UV_TOOL_DIR": str(tools), "UV_TOOL_BIN_DIR": str(bin_dir)}
    got = uv(
        "tool", "install", "-q", "--python", sys.executable, str(installed.wheel),
        "-c", str(ROOT / "requirements.lock"), env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    version = installed.run(tmp_path, ["agent-tui", "--version"], bin_dir=bin_dir).stdout
    assert version.startswith("agent-tui ")
    added = installed.run(tmp_path, ["agent-tui", "add", "--recipe", "workspace-notes"], bin_dir)
    assert added.stdout == "1\n"


def _resolve(installed: Installed, empty: Path, *others: str) -> dict[str, str]:
    """What an install of the wheel beside ``others`` into an empty venv would pick (the package
    index, no lock)."""
    if not empty.exists():
        made = uv("venv", "-q", "--python", sys.executable, str(empty))
        assert made.returncode == 0, made.stderr
    out = uv(
        "pip", "install", "--dry-run", "--python", str(empty / "bin" / "python"),
        str(installed.wheel), *others,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    picked = re.findall(r"^ [+~] ([A-Za-z0-9_.-]+)==(\S+)", out.stderr + out.stdout, flags=re.M)
    return {name.lower(): version for name, version in picked}


def test_the_ranges_resolve_beside_harlequin_and_posting(
    installed: Installed, tmp_path: Path
) -> None:
    """harlequin pins textual exactly (8.2.8 in 2.17.0) and so does posting (6.1.0 in 2.11.1), so
    the newest two cannot share a venv with each other whatever agent-tui asks; beside agent-tui a
    resolver keeps the newest harlequin and finds a posting that accepts textual 8."""
    beside_harlequin = _resolve(installed, tmp_path / "a", "harlequin")
    assert beside_harlequin[DIST] and beside_harlequin["textual"].startswith("8.")
    assert int(beside_harlequin["harlequin"].split(".")[0]) >= 2
    together = _resolve(installed, tmp_path / "b", "harlequin", "posting")
    assert {"harlequin", "posting", DIST} <= together.keys()
    print(json.dumps({k: together[k] for k in ("harlequin", "posting", "textual", DIST)}))
