"""Goals that wait for an unreachable model server: which are due a check, and the next one."""

from __future__ import annotations

from agent_tui.core.store.connection import Record, Store, Tx


def unreachable_due(store: Store, now: float) -> list[Record]:
    """Goals waiting for an unreachable model whose next check is due at ``now``."""
    return store.all(
        "SELECT id, started_at, status_message FROM goals WHERE status = 'waiting'"
        " AND wait_reason = 'model unreachable' AND resume_at <= ?",
        (now,),
    )


def set_next_check(tx: Tx, goal_id: int, resume_at: float, message: str) -> None:
    """The goal keeps waiting; its server is checked again at ``resume_at``."""
    tx.execute(
        "UPDATE goals SET resume_at = ?, status_message = ? WHERE id = ?",
        (resume_at, message, goal_id),
    )
