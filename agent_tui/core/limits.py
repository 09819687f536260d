"""Rate limits and approval timeouts as the user writes them, and the checks against today's counts.

Holding a goal and the counts themselves live in :mod:`agent_tui.core.store.limits`.
"""

from __future__ import annotations

import re

from agent_tui.config import Settings
from agent_tui.core.clock import next_midnight
from agent_tui.core.store import Tx, runs
from agent_tui.core.store import limits as store_limits

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


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


def tool_limit(tx: Tx, tool: str, settings: Settings) -> tuple[str, float] | None:
    """``(message, resume_at)`` when ``tool`` has used up its executions for today."""
    limit = settings.limits.tools.get(tool)
    if not limit:
        return None
    used = store_limits.actions_started_today(tx, tool)
    if used < limit:
        return None
    return store_limits.tool_limit_message(tool, used, limit), next_midnight(tx.now)


def model_limit(tx: Tx, settings: Settings) -> tuple[str, float] | None:
    """``(message, resume_at)`` when the model calls of the last minute reached the limit."""
    limit = settings.limits.model_calls_per_minute
    if not limit:
        return None
    calls = store_limits.model_calls_since(tx, tx.now - 60)
    if len(calls) < limit:
        return None
    opens = calls[len(calls) - limit] + 60
    return f"rate limit: {len(calls)} model calls in the last minute (limit {limit})", opens


def claim_limits(settings: Settings) -> runs.ClaimLimits:
    """The limits a claim counts across every process: the global parallelism (an executor's own
    ``max_parallel`` caps that process alone), per goal, per day and per tool."""
    ex = settings.executor
    return runs.ClaimLimits(
        ex.max_parallel,
        ex.per_goal_parallel,
        ex.lease_seconds,
        settings.limits.daily_executions,
        settings.limits.tools,
    )
