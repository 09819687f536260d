"""Plan rows: each version of a goal's plan as the JSON list of its steps."""

from __future__ import annotations

import json
from typing import Any

from agent_tui.core.store.connection import Row, Store, Tx


def plan(db: Tx | Store, goal_id: int, version: int) -> Row | None:
    """Version ``version`` of the goal's plan, or ``None`` when it has not been stored."""
    return db.one("SELECT * FROM plans WHERE goal_id = ? AND version = ?", (goal_id, version))


def save(tx: Tx, goal_id: int, version: int, reason: str, steps: list[dict[str, Any]]) -> None:
    """Store version ``version`` of the goal's plan, replacing the steps and reason it had."""
    existing = tx.one("SELECT id FROM plans WHERE goal_id = ? AND version = ?", (goal_id, version))
    if existing:
        tx.execute(
            "UPDATE plans SET steps = ?, reason = ? WHERE id = ?",
            (json.dumps(steps), reason, existing["id"]),
        )
        return
    tx.insert(
        "plans",
        {
            "goal_id": goal_id,
            "version": version,
            "reason": reason,
            "steps": json.dumps(steps),
            "created_at": tx.now,
        },
    )
