"""Helpers for Pilot tests: recipe files, and waiting for work instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import load_recipe
from agent_tui.core.store import Store

SIZE = (120, 40)


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 15.0
) -> None:
    """Let the app work until ``predicate()`` holds; fail naming ``what`` after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def shell_recipe(path: Path, command: str, title: str = "Canary") -> Path:
    """Write a one-step recipe whose shell step asks for approval (shell's default policy)."""
    path.write_text(
        f'title = "{title}"\n\n[[steps]]\nid = "touch"\ntool = "shell"\n'
        f"args = {{ command = '{command}' }}\n",
        encoding="utf-8",
    )
    return path


def add_file_goal(store: Store, path: Path) -> int:
    """Add the goal of a recipe file, as ``agent-tui add --recipe`` does."""
    return add_recipe_goal(store, load_recipe(path), recipe_path=path)


def goal_status(store: Store, goal_id: int) -> str:
    row = store.one("SELECT status FROM goals WHERE id = ?", (goal_id,))
    assert row is not None
    return str(row["status"])


def step_row(store: Store, goal_id: int, key: str) -> dict[str, Any]:
    row = store.one("SELECT * FROM steps WHERE goal_id = ? AND key = ?", (goal_id, key))
    assert row is not None
    return row
