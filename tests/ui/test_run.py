"""``agent-tui`` with no command: configuration and database problems stop it before Textual."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_tui.ui.run import run_app


def test_broken_config_is_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("model = [\n", encoding="utf-8")
    assert run_app(executor=True) == 1
    err = capsys.readouterr().err
    assert err.startswith("agent-tui: error: config error in")
    assert err.count("\n") == 1


@pytest.mark.sqlite_only
def test_unusable_database_is_one_line(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_TUI_DB", str(tmp_path))
    assert run_app(executor=False) == 1
    err = capsys.readouterr().err
    assert err.startswith("agent-tui: error: database")
    assert "is a directory" in err
    assert err.count("\n") == 1
