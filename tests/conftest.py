"""Shared fixtures: an isolated AGENT_TUI_HOME, a real store, settings, recipe files.

The store (the ``backend`` fixture) is a SQLite file in the test's home, or with
``--store=postgresql`` (or ``AGENT_TUI_TEST_STORE=postgresql``) a new database on a throwaway
PostgreSQL cluster that the session starts (:mod:`tests.postgres_cluster`);
``AGENT_TUI_STORE_URL`` then points every ``agent-tui`` the test starts, and every settings object
it builds, at that database. With ``--store=both`` (what ``make test`` runs) every functional and
end-to-end test runs on each backend (``[sqlite]``, ``[postgresql]``; the PostgreSQL ones skip
where the server is not installed), except those that test the SQLite file itself."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from agent_tui.config import STORE_URL_ENV, Settings
from agent_tui.core.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
NO_OLLAMA = ""
"""``[llm] ollama_url`` in tests: no probe, so an Ollama running on this machine (at its usual
127.0.0.1:11434) never gives a test a model it did not ask for."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=["sqlite", "postgresql", "both"],
        default=os.environ.get("AGENT_TUI_TEST_STORE", "sqlite"),
        help="the backend the tests' store uses; both: the functional and end-to-end tests run "
        "on each (default: sqlite)",
    )


BOTH_BACKENDS = ("functional", "e2e")
"""The test directories whose tests run on each backend with ``--store=both``."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.config.getoption("--store") != "both" or "backend" not in metafunc.fixturenames:
        return
    if (
        metafunc.definition.path.parent.name not in BOTH_BACKENDS
        or metafunc.definition.get_closest_marker("sqlite_only") is not None
        or "pg_cluster" in metafunc.fixturenames  # a PostgreSQL test of its own
    ):
        return
    metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--store") != "postgresql":
        return
    skip = pytest.mark.skip(reason="tests the SQLite file itself")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: this test's (see the module)."""
    param = getattr(request, "param", None)
    if param is not None:
        return str(param)
    chosen = str(request.config.getoption("--store"))
    return "sqlite" if chosen == "both" else chosen


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A PostgreSQL cluster for the whole session (skips where the server is not installed)."""
    from tests.postgres_cluster import Cluster, bindir

    if bindir() is None:
        pytest.skip("PostgreSQL is not installed (apt install postgresql)")
    cluster = Cluster().start()
    yield cluster
    cluster.remove()


@pytest.fixture(autouse=True)
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, backend: str
) -> Path:
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
    if backend == "postgresql":
        monkeypatch.setenv(STORE_URL_ENV, request.getfixturevalue("pg_cluster").database())
    return path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    (home / "data").mkdir(parents=True, exist_ok=True)  # as opening the SQLite file does
    s = open_store(
        offline_settings(), os.environ.get(STORE_URL_ENV) or home / "data" / "agent-tui.db"
    )
    yield s
    s.close()


def offline_settings() -> Settings:
    """The default settings, except that nothing on this machine is picked up by chance: no
    probe for a local Ollama (environment variables only reach settings through the CLI's
    ``load_settings``; tests that build settings in-process use this)."""
    conf = Settings()
    conf.llm.ollama_url = NO_OLLAMA
    conf.store.url = os.environ.get(STORE_URL_ENV)
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
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AGENT_TUI_") or k == STORE_URL_ENV
    }
    env["AGENT_TUI_HOME"] = str(home)
    env["AGENT_TUI_LLM__OLLAMA_URL"] = NO_OLLAMA
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


CLI = [sys.executable, "-m", "agent_tui.cli"]
