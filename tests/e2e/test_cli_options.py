"""Options every command takes: ``--config FILE`` (or ``AGENT_TUI_CONFIG``) and ``--log-level``, and
the rotated log file."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from agent_tui.logs import setup as setup_logging
from tests.conftest import CLI, cli_env


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=cli_env(home, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_names_the_file_for_any_command(home: Path, tmp_path: Path, where: str) -> None:
    conf = tmp_path / "other.toml"
    conf.write_text('model = "openai/from-other-file"\n')
    args = ["--config", str(conf)]
    # Only the file configures this run (the model it names means no Ollama probe either).
    env = cli_env(home)
    del env["AGENT_TUI_LLM__OLLAMA_URL"]
    out = subprocess.run(
        [
            *CLI,
            *([*args, "doctor", "--json"] if where == "before" else ["doctor", "--json", *args]),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(out.stdout)
    from_env = " + environment" if "AGENT_TUI_STORE_URL" in env else ""  # --store=postgresql
    assert report["config"] == {"ok": True, "source": str(conf) + from_env}
    assert report["model"]["model"] == "openai/from-other-file"
    assert report["paths"]["config"] == str(conf)


def test_the_environment_names_the_file_too(home: Path, tmp_path: Path) -> None:
    conf = tmp_path / "env.toml"
    conf.write_text("[executor]\nmax_parallel = 2\n")
    out = run(home, "locate", "config", AGENT_TUI_CONFIG=str(conf))
    assert (out.returncode, out.stdout) == (0, f"{conf}\n")
    assert json.loads(run(home, "doctor", "--json", AGENT_TUI_CONFIG=str(conf)).stdout)["ok"]


@pytest.mark.parametrize("command", [["ls"], ["worker", "--until-idle"], ["approvals"]])
def test_a_named_config_that_is_missing_is_one_error_line(home: Path, command: list[str]) -> None:
    out = run(home, *command, "--config", "/nonexistent/agent-tui.toml")
    assert out.returncode == 1
    assert out.stderr == (
        "agent-tui: error: config error in /nonexistent/agent-tui.toml: no such file "
        "(named by --config or AGENT_TUI_CONFIG)\n"
    )


def test_log_level_from_the_option_and_the_config(home: Path, tmp_path: Path) -> None:
    log = home / "state" / "agent-tui.log"
    run(home, "--log-level", "debug", "worker", "--until-idle")
    assert " DEBUG " in log.read_text()
    log.unlink()
    conf = tmp_path / "c.toml"
    conf.write_text('[log]\nlevel = "ERROR"\n')
    assert run(home, "worker", "--until-idle", "--config", str(conf)).returncode == 0
    assert " INFO " not in (log.read_text() if log.exists() else "")
    bad = run(home, "ls", "--log-level", "loud")
    assert bad.returncode == 2 and "invalid choice: 'loud'" in bad.stderr


def test_the_log_file_rotates(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text("[log]\nmax_bytes = 65536\nbackups = 2\n")
    monkeypatch.setenv("AGENT_TUI_CONFIG", str(conf))
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging()
        log = logging.getLogger("agent_tui.test")
        for n in range(3000):
            log.info("line %d %s", n, "x" * 80)
    finally:
        for handler in root.handlers[len(before) :]:
            handler.close()
            root.removeHandler(handler)
    files = sorted(p.name for p in (home / "state").iterdir())
    assert files == ["agent-tui.log", "agent-tui.log.1", "agent-tui.log.2"]
    assert all((home / "state" / f).stat().st_size <= 65536 for f in files)
