"""Step rows: read one or a goal's steps in some statuses, and the dependency edges between them."""

from __future__ import annotations

from collections.abc import Collection

from agent_tui.core.store.connection import Record, Store, Tx
from agent_tui.core.store.rows import Step


def step(db: Tx | Store, step_id: int) -> Step | None:
    """The step's row, or ``None`` when there is no such step."""
    row = db.one("SELECT * FROM steps WHERE id = ?", (step_id,))
    return None if row is None else Step.of(row)


def in_status(
    tx: Tx,
    goal_id: int,
    statuses: Collection[str],
    *,
    plan_version: int | None = None,
    key: str | None = None,
) -> list[Record]:
    """The goal's steps in one of ``statuses``, of one plan version and with one key if given."""
    sql = f"SELECT * FROM steps WHERE goal_id = ? AND status IN ({', '.join('?' * len(statuses))})"
    params: list[object] = [goal_id, *statuses]
    if plan_version is not None:
        sql += " AND plan_version = ?"
        params.append(plan_version)
    if key is not None:
        sql += " AND key = ?"
        params.append(key)
    return tx.all(sql, params)


def running_count(tx: Tx, goal_id: int) -> int:
    """How many of the goal's steps are running."""
    row = tx.one(
        "SELECT count(*) AS n FROM steps WHERE goal_id = ? AND status = 'running'", (goal_id,)
    )
    return int(row["n"]) if row else 0


def completed_agent_steps(tx: Tx, goal_id: int) -> list[Record]:
    """The goal's completed agent steps of every plan version (key, title, result), in order."""
    return tx.all(
        "SELECT key, title, result FROM steps WHERE goal_id = ? AND kind = 'agent'"
        " AND status = 'completed' ORDER BY plan_version, position",
        (goal_id,),
    )


def add_dependency(tx: Tx, step_id: int, depends_on: int) -> None:
    """Step ``step_id`` waits for step ``depends_on``."""
    tx.execute("INSERT INTO step_deps (step_id, depends_on) VALUES (?, ?)", (step_id, depends_on))


def dependency_statuses(tx: Tx, step_id: int) -> list[str]:
    """The statuses of the steps this one depends on."""
    rows = tx.all(
        "SELECT s.status FROM step_deps d JOIN steps s ON s.id = d.depends_on WHERE d.step_id = ?",
        (step_id,),
    )
    return [row["status"] for row in rows]
