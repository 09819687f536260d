"""Rate limits and approval timeouts: goals that wait for a window to open, approvals that expire.

A goal held by a limit is ``waiting`` with a reason and ``resume_at``; the executor arms a date
trigger for the earliest ``resume_at`` (and checks every second as a safety net), so it resumes when
the window opens without polling.
"""

from __future__ import annotations

import re

from agent_tui.config import Settings
from agent_tui.core.clock import next_midnight, start_of_day
from agent_tui.core.lifecycle import release_step, resume_goal, wait_goal
from agent_tui.core.store import Row, Tx

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)
SCHEDULED_APPROVAL_TIMEOUT = 30 * 60.0


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"45s"``, ``"30m"``, ``"2h"`` or ``"1h30m"``; ``ValueError`` if not."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw)
    match = _DURATION.match(raw)
    if not raw or not match or not any(match.groups()):
        raise ValueError(f"'{text}' is not a duration (use 45s, 30m, 2h or 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"'{text}' must be longer than 0")
    return total


def parse_approval_timeout(text: str) -> float | None:
    """``"wait"`` (``None``: wait for ever) or ``"deny after 30m"`` / ``"30m"`` in seconds."""
    raw = text.strip().lower()
    if raw == "wait":
        return None
    raw = raw.removeprefix("deny after").strip()
    return parse_duration(raw)


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


def tool_limit(tx: Tx, tool: str, settings: Settings) -> tuple[str, float] | None:
    """``(message, resume_at)`` when ``tool`` has used up its executions for today."""
    limit = settings.limits.tools.get(tool)
    if not limit:
        return None
    row = tx.one(
        "SELECT count(*) AS n FROM actions WHERE tool = ? AND started_at >= ?",
        (tool, start_of_day(tx.now)),
    )
    used = row["n"] if row else 0
    if used < limit:
        return None
    return tool_limit_message(tool, used, limit), next_midnight(tx.now)


def tool_limit_message(tool: str, used: int, limit: int) -> str:
    return f"rate limit: {tool} ran {used} times today (limit {limit})"


def model_limit(tx: Tx, settings: Settings) -> tuple[str, float] | None:
    """``(message, resume_at)`` when the model calls of the last minute reached the limit."""
    limit = settings.limits.model_calls_per_minute
    if not limit:
        return None
    rows = tx.all("SELECT ts FROM usage WHERE ts > ? ORDER BY ts", (tx.now - 60,))
    if len(rows) < limit:
        return None
    opens = rows[len(rows) - limit]["ts"] + 60
    return f"rate limit: {len(rows)} model calls in the last minute (limit {limit})", opens


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


def due_approvals(tx: Tx) -> list[Row]:
    return tx.all(
        "SELECT * FROM approvals WHERE status = 'pending' AND expires_at IS NOT NULL"
        " AND expires_at <= ?",
        (tx.now,),
    )
