"""Settings from config.toml and AGENT_TUI_* variables, and clear errors for broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_tui import paths
from agent_tui.config import ConfigError, load_settings


def test_defaults_without_a_file(tmp_path: Path) -> None:
    conf = load_settings(tmp_path / "missing.toml", environ={})
    assert conf.model is None
    assert conf.executor.max_parallel == 4
    assert conf.source == "defaults"


def test_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'model = "openai/gpt-4o"\n[executor]\nmax_parallel = 2\n[policy.tools]\nshell = "allow"\n'
    )
    conf = load_settings(
        path,
        environ={
            "AGENT_TUI_EXECUTOR__MAX_PARALLEL": "7",
            "AGENT_TUI_MODEL": "ollama/llama3.2",
            "AGENT_TUI_HOME": "/ignored",
        },
    )
    assert conf.executor.max_parallel == 7
    assert conf.model == "ollama/llama3.2"
    assert conf.policy.tools == {"shell": "allow"}
    assert conf.source == f"{path} + environment"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("model = ", "config error in"),
        ("[executor]\nmax_paralel = 3\n", "executor.max_paralel: unknown key"),
        ("[executor]\nmax_parallel = 0\n", "executor.max_parallel: input should be greater"),
        ('[policy.tools]\nshell = "sometimes"\n', "policy.tools.shell"),
        ('[retry]\nfactor = "fast"\n', "retry.factor"),
    ],
)
def test_broken_files_name_the_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_bad_environment_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"AGENT_TUI_\* environment: executor\.max_parallel"):
        load_settings(tmp_path / "none.toml", environ={"AGENT_TUI_EXECUTOR__MAX_PARALLEL": "x"})


def test_home_redirects_every_path(home: Path) -> None:
    for fn in (
        paths.config_dir,
        paths.data_dir,
        paths.state_dir,
        paths.db_path,
        paths.outputs_dir,
        paths.themes_dir,
    ):
        assert str(fn()).startswith(str(home))


def test_write_atomic_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.txt"
    paths.write_atomic(target, "one")
    paths.write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]
