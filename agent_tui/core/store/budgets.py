"""What a budget is checked against (model usage, read as :func:`.views.usage_totals` counts
it) and what raising one writes: a goal's own limits (its ``budget`` column) and the day's raise of
the daily money budget (a setting per day)."""

from __future__ import annotations

import json
from typing import Any

from agent_tui.core.clock import start_of_day
from agent_tui.core.store.connection import Store, Tx
from agent_tui.core.store.views import usage_totals


def _store(db: Tx | Store) -> Store:
    return db.store if isinstance(db, Tx) else db


def goal_usage(db: Tx | Store, goal_id: int) -> tuple[float, int, int]:
    """The goal's model usage so far: dollars, tokens (prompt and completion) and model calls."""
    used = usage_totals(_store(db), "goal_id = ?", (goal_id,))
    return (
        used["cost_usd_known"],
        used["prompt_tokens"] + used["completion_tokens"],
        used["model_calls"],
    )


def spent_since(db: Tx | Store, since: float) -> float:
    """Dollars spent on model calls since ``since`` (calls of unknown cost count nothing)."""
    return float(usage_totals(_store(db), "ts >= ?", (since,))["cost_usd_known"])


def _raise_key(now: float) -> str:
    return f"daily_usd_raise:{int(start_of_day(now))}"


def daily_raise(db: Tx | Store, now: float) -> float:
    """What approvals added to the daily money budget on the day of ``now`` (0 when none)."""
    return float(_store(db).setting(_raise_key(now), 0.0))


def set_daily_raise(tx: Tx, extra: float) -> None:
    """Record ``extra`` as the whole of today's raise of the daily money budget."""
    tx.store.set_setting(_raise_key(tx.now), extra, tx)


def set_goal_budget(tx: Tx, goal_id: int, budget: dict[str, Any]) -> None:
    """The goal's own limits (they replace the ones it had)."""
    tx.execute("UPDATE goals SET budget = ? WHERE id = ?", (json.dumps(budget), goal_id))
