"""Helpers for tests that drive the real executor in-process."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_tui.config import STORE_URL_ENV, Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import load_recipe, parse_recipe
from agent_tui.core.store import Store

HANG = 60.0
"""A hang guard's timeout: far above any expected duration, below what the broken behaviour
takes (a 100 s sleeper waited for). Tests never assert an upper bound on time otherwise."""


def add(store: Store, recipe: dict[str, Any] | Path, **kwargs: Any) -> int:
    parsed = load_recipe(recipe) if isinstance(recipe, Path) else parse_recipe(recipe)
    return add_recipe_goal(store, parsed, **kwargs)


async def run_idle(
    store: Store, settings: Settings, timeout: float = 30, **kwargs: Any
) -> Executor:
    """Start an executor, wait until nothing is runnable, stop it."""
    executor = Executor(store, settings, **kwargs)
    await executor.start()
    try:
        await asyncio.wait_for(executor.run_until_idle(), timeout)
    finally:
        await executor.stop()
    return executor


async def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until it holds (tests wait for work, never sleep a fixed time); fail
    naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}" if what else "condition not met in time"
            )
        await asyncio.sleep(0.01)


def goal_status(store: Store, goal_id: int) -> str:
    return store.one("SELECT status FROM goals WHERE id = ?", (goal_id,))["status"]


def steps(store: Store, goal_id: int) -> dict[str, dict[str, Any]]:
    rows = store.all("SELECT * FROM steps WHERE goal_id = ? ORDER BY position", (goal_id,))
    for row in rows:
        row["result"] = json.loads(row["result"]) if row["result"] else None
    return {r["key"]: r for r in rows}


def pending_approvals(store: Store) -> list[dict[str, Any]]:
    return store.all("SELECT * FROM approvals WHERE status = 'pending' ORDER BY id")


def shell(id_: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "tool": "shell", "args": {"command": command}, **extra}


def echo(id_: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "tool": "echo", "args": {"text": text}, **extra}


class Sink:
    """Collects ``(stream, text, time)`` chunks and signals each arrival."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, str, float]] = []
        self.arrived = asyncio.Event()

    def __call__(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text, time.monotonic()))
        self.arrived.set()

    def text(self, stream: str = "stdout") -> str:
        return "".join(t for s, t, _ in self.chunks if s == stream)


def workspace_of(store: Store, goal_id: int) -> Path:
    """The goal's workspace: the only place its sandboxed commands can write."""
    row = store.one("SELECT workspace FROM goals WHERE id = ?", (goal_id,))
    assert row is not None
    return Path(row["workspace"])


def alive(marker: str) -> bool:
    """Whether a process whose command line holds ``marker`` runs (zombies count as gone).

    Commands run in the sandbox's PID namespace, where ``$!`` means nothing outside; a unique
    argument (``sleep 100.4711``) finds the process from here.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in args and state not in ("Z", "X"):
            return True
    return False


def allow_shell(settings: Settings) -> Settings:
    """Shell runs without asking (as a `[policy.tools]` rule would allow it)."""
    settings.policy.tools["shell"] = "allow"
    return settings


def the_store(home: Path, *, clock: Callable[[], float] | None = None) -> Store:
    """The test's database with ``clock``: the SQLite file in ``home``, or with
    ``--store=postgresql`` the test's PostgreSQL database (what the CLI it starts opens too)."""
    url = os.environ.get(STORE_URL_ENV)
    if url:
        from agent_tui.core.store.postgres import PgStore

        return PgStore(url, clock=clock or time.time)
    return Store(home / "data" / "agent-tui.db", clock=clock or time.time)
