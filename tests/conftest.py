"""Shared fixtures: an isolated AGENT_TUI_HOME, a real SQLite store, settings, recipe files."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from agent_tui.config import Settings
from agent_tui.core.store import Store

ROOT = Path(__file__).resolve().parent.parent
NO_OLLAMA = ""
"""``[llm] ollama_url`` in tests: no probe, so an Ollama running on this machine (at its usual
127.0.0.1:11434) never gives a test a model it did not ask for."""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own AGENT_TUI_HOME and no model or agent-tui variables from outside."""
    provider_keys = {
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "OPENROUTER_API_KEY",
        "MISTRAL_API_KEY",
    }
    for name in list(os.environ):
        if name.startswith("AGENT_TUI_") or name in provider_keys:
            monkeypatch.delenv(name)
    path = tmp_path / "home"
    monkeypatch.setenv("AGENT_TUI_HOME", str(path))
    monkeypatch.setenv("AGENT_TUI_LLM__OLLAMA_URL", NO_OLLAMA)
    return path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    s = Store(home / "data" / "agent-tui.db")
    yield s
    s.close()


def offline_settings() -> Settings:
    """The default settings, except that nothing on this machine is picked up by chance: no
    probe for a local Ollama (environment variables only reach settings through the CLI's
    ``load_settings``; tests that build settings in-process use this)."""
    conf = Settings()
    conf.llm.ollama_url = NO_OLLAMA
    return conf


@pytest.fixture
def settings() -> Settings:
    conf = offline_settings()
    conf.executor.heartbeat_seconds = 0.5
    conf.retry.base_delay = 0.05
    return conf


@pytest.fixture
def write_recipe(tmp_path: Path):
    """Write a recipe file from TOML text and return its path."""
    counter = iter(range(10_000))

    def write(text: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"recipe{next(counter)}.toml")
        path.write_text(text, encoding="utf-8")
        return path

    return write


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for running the real ``agent-tui`` as a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_TUI_")}
    env["AGENT_TUI_HOME"] = str(home)
    env["AGENT_TUI_LLM__OLLAMA_URL"] = NO_OLLAMA
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


CLI = [sys.executable, "-m", "agent_tui.cli"]
