"""Checkpoints around one action: a snapshot before it runs, the change recorded after it ends.

Used by the executor for every side-effecting action (shell, python, write_file, MCP tools that
are not read-only). Git runs off the event loop. A checkpoint that cannot be made never stops the
action: it is said in the journal and the log, and the action runs as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_tui.core.checkpoints import record
from agent_tui.core.checkpoints.shadow import Change, CheckpointError, Shadow
from agent_tui.core.sandbox.hidden import homes
from agent_tui.core.store import Store

log = logging.getLogger(__name__)


@dataclass
class Pending:
    """A snapshot taken before an action, waiting for the action to end."""

    shadow: Shadow
    before: str
    action_id: int


def _snapshot(shadow: Shadow, ref: str) -> tuple[str, tuple[str, ...]]:
    """A snapshot, named at once under the lock: pruning never sees it unnamed."""
    with shadow.locked():
        tree, skipped = shadow.snapshot()
        shadow.keep({ref: tree})
        return tree, skipped


async def before(
    store: Store, settings: Any, workspace: Path, goal_id: int, action_id: int
) -> Pending | None:
    """Snapshot ``workspace`` before action ``action_id``; ``None`` (said) if it cannot be made."""
    section = getattr(settings, "checkpoints", None)
    if section is not None and not section.enabled:
        return None
    if (why := too_wide(workspace)) is not None:
        _failed(store, goal_id, action_id, CheckpointError(why))
        return None
    limit = getattr(section, "max_file_bytes", None)
    shadow = Shadow(workspace) if limit is None else Shadow(workspace, max_file_bytes=limit)
    try:
        commit, _ = await asyncio.to_thread(_snapshot, shadow, f"actions/{action_id}/before")
    except (CheckpointError, OSError) as exc:
        _failed(store, goal_id, action_id, exc)
        return None
    return Pending(shadow, commit, action_id)


async def after(store: Store, pending: Pending, goal_id: int, step_id: int) -> Change | None:
    """Snapshot again and record what the action changed; ``None`` (said) on failure."""
    shadow = pending.shadow
    try:
        name = f"actions/{pending.action_id}"
        commit, skipped = await asyncio.to_thread(_snapshot, shadow, f"{name}/after")
        change = await asyncio.to_thread(shadow.change, pending.before, commit, skipped)
        if not change.files:  # nothing to undo: no names to keep
            await asyncio.to_thread(shadow.forget, [f"{name}/before", f"{name}/after"])
        with store.write() as tx:
            record.insert(
                tx,
                goal_id=goal_id,
                step_id=step_id,
                action_id=pending.action_id,
                kind="action",
                workspace=str(shadow.workspace),
                before=pending.before,
                after=commit,
                change=change,
            )
    except (CheckpointError, OSError) as exc:
        _failed(store, goal_id, pending.action_id, exc)
        return None
    return change


def too_wide(workspace: Path) -> str | None:
    """Why a workspace is not checkpointed: ``/`` or a folder holding a home directory, whose
    snapshot would copy a whole system's or user's files."""
    real = Path(os.path.realpath(workspace))
    if real == Path("/"):
        return "the workspace is /: too wide to checkpoint"
    for home in homes():
        if home == real or real in home.parents:
            return f"the workspace holds the home directory {home}: too wide to checkpoint"
    return None


def _failed(store: Store, goal_id: int, action_id: int, exc: BaseException) -> None:
    message = f"no checkpoint: {exc}"
    log.warning("action %s: %s", action_id, message)
    try:
        with store.write() as tx:
            tx.event("checkpoint.failed", message, goal_id=goal_id, action_id=action_id)
    except Exception:
        log.exception("could not journal a failed checkpoint")
