"""Schedule rows: which are due, what each run (or skipped run) records, pause and resume.

Whether a schedule is due at all is :mod:`.readiness`'s question; a run's outcome is recorded by
:func:`.lifecycle.record_schedule_outcome` when its goal settles.
"""

from __future__ import annotations

import json
from typing import Any

from agent_tui.core.store import Record, Row, Store, Tx


def schedule(tx: Tx, schedule_id: int) -> Row | None:
    return tx.one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))


def files_due(store: Store, now: float) -> list[Record]:
    """Id and recipe file of the enabled schedules due at ``now`` that run from a file."""
    return store.all(
        "SELECT id, recipe_path FROM schedules WHERE enabled = 1 AND next_run_at <= ?"
        " AND recipe_path IS NOT NULL",
        (now,),
    )


def due(tx: Tx) -> list[Record]:
    """The enabled schedules due now (the transaction's time)."""
    return tx.all("SELECT * FROM schedules WHERE enabled = 1 AND next_run_at <= ?", (tx.now,))


def set_next_run(tx: Tx, schedule_id: int, at: float) -> None:
    tx.execute("UPDATE schedules SET next_run_at = ? WHERE id = ?", (at, schedule_id))


def record_run(tx: Tx, schedule_id: int, title: str, recipe: str, goal_id: int) -> None:
    """A run started now: its goal, and the recipe (as JSON) and title it ran with."""
    tx.execute(
        "UPDATE schedules SET title = ?, recipe = ?, last_run_at = ?, last_goal_id = ?,"
        " last_status = 'running' WHERE id = ?",
        (title, recipe, tx.now, goal_id, schedule_id),
    )


def record_skip(tx: Tx, schedule_id: int, next_run_at: float) -> None:
    """A run skipped now: no goal, one more failure in a row, the next time set."""
    tx.execute(
        "UPDATE schedules SET next_run_at = ?, last_run_at = ?, last_goal_id = NULL,"
        " last_status = 'skipped', failure_streak = failure_streak + 1 WHERE id = ?",
        (next_run_at, tx.now, schedule_id),
    )


def failing(tx: Tx, streak: int) -> list[Record]:
    """Id, title and failure streak of the enabled schedules that failed ``streak`` times or
    more in a row."""
    return tx.all(
        "SELECT id, title, failure_streak FROM schedules WHERE enabled = 1 AND failure_streak >= ?",
        (streak,),
    )


def disable(tx: Tx, schedule_id: int) -> None:
    tx.execute("UPDATE schedules SET enabled = 0 WHERE id = ?", (schedule_id,))


def enable(tx: Tx, schedule_id: int, next_run_at: float) -> None:
    """Enable a schedule from ``next_run_at`` with its failure streak cleared."""
    tx.execute(
        "UPDATE schedules SET enabled = 1, next_run_at = ?, failure_streak = 0 WHERE id = ?",
        (next_run_at, schedule_id),
    )


def last_skip(store: Store, schedule_id: int) -> dict[str, Any] | None:
    """The data of the schedule's last ``schedule.skipped`` event, if it has one."""
    row = store.one(
        "SELECT data FROM events WHERE kind = 'schedule.skipped'"
        " AND CAST(json_extract(data, '$.schedule_id') AS INTEGER) = ? ORDER BY id DESC LIMIT 1",
        (schedule_id,),
    )
    if row is None or not row["data"]:
        return None
    data: dict[str, Any] = json.loads(row["data"])
    return data


def listing(store: Store) -> list[Record]:
    """Every schedule, as ``agent-tui schedules`` and the schedules screen list them."""
    return store.all("SELECT * FROM schedules ORDER BY id")


def remove(tx: Tx, schedule_id: int) -> bool:
    """Delete a schedule (its goals stay); ``False`` if there is no such schedule."""
    return bool(tx.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount > 0)
