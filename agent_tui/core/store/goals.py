"""Goal rows: read one, and the few fields set outside a status transition (workspace, plan
version, archive); its documents' versions."""

from __future__ import annotations

from agent_tui.core.store.connection import Store, Tx
from agent_tui.core.store.rows import Goal


def goal(db: Tx | Store, goal_id: int) -> Goal | None:
    """The goal's row, or ``None`` when there is no such goal."""
    row = db.one("SELECT * FROM goals WHERE id = ?", (goal_id,))
    return None if row is None else Goal.of(row)


def set_workspace(tx: Tx, goal_id: int, workspace: str) -> None:
    tx.execute("UPDATE goals SET workspace = ? WHERE id = ?", (workspace, goal_id))


def start_plan_version(tx: Tx, goal_id: int, version: int) -> None:
    """The goal moves to plan ``version`` by a replan (counted in ``replans``)."""
    tx.execute(
        "UPDATE goals SET plan_version = ?, replans = replans + 1 WHERE id = ?",
        (version, goal_id),
    )


def archive(tx: Tx, goal_id: int) -> None:
    """Hide the goal from the lists; its rows stay."""
    tx.execute("UPDATE goals SET archived = 1, updated_at = ? WHERE id = ?", (tx.now, goal_id))


def document_version(tx: Tx, goal_id: int, name: str) -> int:
    """The latest version of the goal's document ``name`` (0 when it has none)."""
    row = tx.one(
        "SELECT max(version) AS v FROM artifacts WHERE goal_id = ? AND name = ?", (goal_id, name)
    )
    return int(row["v"] or 0) if row else 0
