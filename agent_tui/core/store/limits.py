"""Limits and holds in the store: goals that wait for a window to open, approvals that expire.

A goal held by a limit is ``waiting`` with a reason and ``resume_at``; the executor arms a date
trigger for the earliest ``resume_at`` (and checks every second as a safety net), so it resumes when
the window opens without polling. The counts a limit is checked against are read in the caller's
transaction, so a limit holds across every process sharing the database.
"""

from __future__ import annotations

from agent_tui.core.clock import start_of_day
from agent_tui.core.store.connection import Record, Row, Tx
from agent_tui.core.store.lifecycle import release_step, resume_goal, wait_goal

SCHEDULED_APPROVAL_TIMEOUT = 30 * 60.0
"""How long an approval of a scheduled goal waits when its recipe says nothing: nobody may be
watching when a schedule fires."""

PROBED_REASONS = ("model unreachable",)
"""Waits that end when a check of the model server succeeds, not when the time comes."""


def hold_goal(
    tx: Tx,
    goal_id: int,
    reason: str,
    message: str,
    resume_at: float,
    *,
    until: str = "resumes at",
) -> None:
    """Put a goal in ``waiting`` until ``resume_at`` (a rate limit, the daily limit, or the
    next check of an unreachable model server)."""
    wait_goal(tx, goal_id, reason, message, resume_at=resume_at, until=until)


def release_due(tx: Tx) -> int:
    """Goals whose window has opened go on."""
    rows = tx.all(
        "SELECT id, started_at FROM goals WHERE status = 'waiting'"
        " AND resume_at IS NOT NULL AND resume_at <= ?"
        f" AND coalesce(wait_reason, '') NOT IN ({','.join('?' for _ in PROBED_REASONS)})",
        (tx.now, *PROBED_REASONS),
    )
    for row in rows:
        resume_goal(tx, row, "the limit's window has opened")
    return len(rows)


def tool_uses_today(tx: Tx, tool: str) -> int:
    """Executions of ``tool`` started today, plus its tool steps running without an action yet
    (claimed, about to start one)."""
    row = tx.one(
        "SELECT (SELECT count(*) FROM actions WHERE tool = :tool AND started_at >= :day)"
        " + (SELECT count(*) FROM steps s WHERE s.status = 'running' AND s.kind = 'tool'"
        "    AND s.tool = :tool AND NOT EXISTS(SELECT 1 FROM actions a WHERE a.step_id = s.id"
        "    AND a.attempt = s.attempt AND a.started_at IS NOT NULL)) AS n",
        {"tool": tool, "day": start_of_day(tx.now)},
    )
    return int(row["n"]) if row else 0


def actions_started_today(tx: Tx, tool: str) -> int:
    """Actions of ``tool`` started since local midnight."""
    row = tx.one(
        "SELECT count(*) AS n FROM actions WHERE tool = ? AND started_at >= ?",
        (tool, start_of_day(tx.now)),
    )
    return int(row["n"]) if row else 0


def model_calls_since(tx: Tx, since: float) -> list[float]:
    """The times of the model calls made after ``since``, oldest first."""
    return [row["ts"] for row in tx.all("SELECT ts FROM usage WHERE ts > ? ORDER BY ts", (since,))]


def tool_limit_message(tool: str, used: int, limit: int) -> str:
    return f"rate limit: {tool} ran {used} times today (limit {limit})"


def hold_step(
    tx: Tx, step: Row, reason: str, message: str, resume_at: float, *, until: str = "resumes at"
) -> None:
    """Give a running step back and hold its goal until the window opens. A step that has no
    action yet did not really start: its start time is cleared, so no duration runs on."""
    acted = tx.one("SELECT 1 AS x FROM actions WHERE step_id = ? LIMIT 1", (step["id"],))
    started = {} if acted or step["kind"] != "tool" else {"started_at": None}
    release_step(tx, step, **started)
    hold_goal(tx, step["goal_id"], reason, message, resume_at, until=until)


def approval_expiry(goal: Row, now: float) -> float | None:
    """When a new approval of this goal times out (``None``: it waits)."""
    timeout = goal["approval_timeout"]
    if timeout is None and goal["schedule_id"] is not None:
        timeout = SCHEDULED_APPROVAL_TIMEOUT
    if timeout is None or timeout < 0:
        return None
    return now + float(timeout)


def due_approvals(tx: Tx) -> list[Record]:
    """Pending approvals whose timeout has passed."""
    return tx.all(
        "SELECT * FROM approvals WHERE status = 'pending' AND expires_at IS NOT NULL"
        " AND expires_at <= ?",
        (tx.now,),
    )
