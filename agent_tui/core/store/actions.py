"""Action rows: read one (by id, by its step's tool call, the approved one a step resumes), a
goal's actions in some statuses, and the process a running command was started as."""

from __future__ import annotations

from collections.abc import Collection

from agent_tui.core.store.connection import Record, Row, Store, Tx
from agent_tui.core.store.rows import Action


def action(db: Tx | Store, action_id: int) -> Action | None:
    """The action's row, or ``None`` when there is no such action."""
    row = db.one("SELECT * FROM actions WHERE id = ?", (action_id,))
    return None if row is None else Action.of(row)


def for_tool_call(db: Tx | Store, step_id: int, tool_call_id: str) -> Row | None:
    """The latest action a step made for a model's tool call."""
    return db.one(
        "SELECT * FROM actions WHERE step_id = ? AND tool_call_id = ? ORDER BY id DESC LIMIT 1",
        (step_id, tool_call_id),
    )


def approved_for_step(db: Tx | Store, step_id: int) -> Row | None:
    """The step's latest action approved in the queue and not started yet."""
    return db.one(
        "SELECT * FROM actions WHERE step_id = ? AND status = 'approved' ORDER BY id DESC LIMIT 1",
        (step_id,),
    )


def in_status(tx: Tx, goal_id: int, statuses: Collection[str]) -> list[Record]:
    """The goal's actions in one of ``statuses``."""
    marks = ", ".join("?" * len(statuses))
    return tx.all(
        f"SELECT * FROM actions WHERE goal_id = ? AND status IN ({marks})", (goal_id, *statuses)
    )


def with_workspace(db: Tx | Store, action_id: int) -> Row | None:
    """The action's tool and arguments, with its goal's workspace."""
    return db.one(
        "SELECT a.tool, a.args, g.workspace FROM actions a JOIN goals g ON g.id = a.goal_id"
        " WHERE a.id = ?",
        (action_id,),
    )


def set_process(tx: Tx, action_id: int, record: str) -> None:
    """Record the process the action's command runs as (see :func:`.liveness.process_record`)."""
    tx.execute("UPDATE actions SET process = ? WHERE id = ?", (record, action_id))
