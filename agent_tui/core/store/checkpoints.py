"""Checkpoint rows: what each side-effecting action (or undo) changed in its workspace.

Recording one is :meth:`Tx.insert` on ``checkpoints``; this module holds the reads behind
``show``, undo and pruning, and the two marks a checkpoint gets later (undone, pruned).
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_tui.core.store import Record, Row, Store, Tx


def for_goal(store: Store, goal_id: int) -> list[Record]:
    """Every checkpoint of a goal, oldest first."""
    return store.all("SELECT * FROM checkpoints WHERE goal_id = ? ORDER BY id", (goal_id,))


def records(store: Store, goal_id: int) -> list[Record]:
    """A goal's checkpoints as the export keeps them: what changed (``changes`` as JSON text,
    the diff), not the snapshots or the workspace."""
    return store.all(
        "SELECT id, step_id, action_id, kind, files, added, removed, changes, diff,"
        " undone_by, created_at FROM checkpoints WHERE goal_id = ? ORDER BY id",
        (goal_id,),
    )


# -- undo ---------------------------------------------------------------------------------------


def not_undone(
    store: Store, *, goal_id: int | None = None, step_id: int | None = None
) -> list[Record]:
    """The checkpoints of a step (given ``step_id``) or else of a goal that are not undone yet,
    oldest first."""
    if step_id is not None:
        return store.all(
            "SELECT * FROM checkpoints WHERE step_id = ? AND undone_by IS NULL ORDER BY id",
            (step_id,),
        )
    return store.all(
        "SELECT * FROM checkpoints WHERE goal_id = ? AND undone_by IS NULL ORDER BY id",
        (goal_id,),
    )


def mark_undone(tx: Tx, checkpoint_ids: Sequence[int], undo_id: int) -> None:
    """Record that the undo checkpoint ``undo_id`` reverted these checkpoints."""
    marks = ",".join("?" * len(checkpoint_ids))
    tx.execute(
        f"UPDATE checkpoints SET undone_by = ? WHERE id IN ({marks})",
        (undo_id, *checkpoint_ids),
    )


def running_steps(store: Store, goal_id: int) -> int:
    """How many of a goal's steps are running (undo waits for none)."""
    row = store.one(
        "SELECT count(*) AS n FROM steps WHERE goal_id = ? AND status = 'running'", (goal_id,)
    )
    return int(row["n"]) if row else 0


def latest_step_id(store: Store, goal_id: int, key: str) -> int | None:
    """The id of a goal's step ``key`` in the newest plan that has one."""
    row = store.one(
        "SELECT id FROM steps WHERE goal_id = ? AND key = ? ORDER BY plan_version DESC LIMIT 1",
        (goal_id, key),
    )
    return int(row["id"]) if row else None


def step_key(store: Store, step_id: int) -> str | None:
    row = store.one("SELECT key FROM steps WHERE id = ?", (step_id,))
    return row["key"] if row else None


# -- pruning ------------------------------------------------------------------------------------


def prunable(store: Store, finished_before: float, limit: int) -> list[Record]:
    """Checkpoints with snapshots still kept whose goal finished before ``finished_before``:
    id, kind, action id and workspace, oldest first."""
    return store.all(
        "SELECT c.id, c.kind, c.action_id, c.workspace FROM checkpoints c"
        " JOIN goals g ON g.id = c.goal_id"
        " WHERE c.pruned_at IS NULL AND g.finished_at IS NOT NULL AND g.finished_at < ?"
        " AND g.status IN ('completed', 'failed', 'cancelled') ORDER BY c.id LIMIT ?",
        (finished_before, limit),
    )


def mark_pruned(tx: Tx, checkpoint_ids: Sequence[int], now: float) -> None:
    """Record that these checkpoints' snapshots are gone (they can no longer be undone)."""
    marks = ",".join("?" * len(checkpoint_ids))
    tx.execute(
        f"UPDATE checkpoints SET pruned_at = ? WHERE id IN ({marks})", (now, *checkpoint_ids)
    )


def checkpoint(store: Store, checkpoint_id: int) -> Row | None:
    return store.one("SELECT * FROM checkpoints WHERE id = ?", (checkpoint_id,))
