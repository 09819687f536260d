"""Per-goal budgets (money, tokens, wall time, model turns) and the daily money budget.

Reaching one puts the goal in ``waiting`` (reason ``budget``) with an approval item: approving
doubles the limit that was reached, rejecting stops the goal. The same checks run in the TUI and
headless, because both use the executor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent_tui.config import Settings
from agent_tui.core.clock import start_of_day
from agent_tui.core.store import Row, Store, Tx, approvals, budgets
from agent_tui.core.store import goals as store_goals
from agent_tui.core.store.lifecycle import release_step, wait_goal

KINDS = {
    "max_usd": "money",
    "max_tokens": "tokens",
    "max_seconds": "wall time",
    "max_iterations": "model turns",
}


@dataclass(frozen=True, slots=True)
class Hit:
    """A budget that is used up."""

    key: str  # max_usd | max_tokens | max_seconds | max_iterations | daily_usd
    used: float
    limit: float

    def describe(self) -> str:
        if self.key == "daily_usd":
            return f"today's spending ${self.used:.4f} reached the daily budget ${self.limit:.2f}"
        unit = {"max_usd": "$", "max_tokens": "", "max_seconds": "", "max_iterations": ""}[self.key]
        suffix = {"max_seconds": " s", "max_tokens": " tokens", "max_iterations": " turns"}.get(
            self.key, ""
        )
        used = f"{self.used:.4f}" if self.key == "max_usd" else f"{self.used:.0f}"
        return (
            f"the goal's {KINDS[self.key]} budget is used up: {unit}{used}{suffix} of "
            f"{unit}{self.limit:g}{suffix}"
        )


def limits(goal: Row, settings: Settings) -> dict[str, float]:
    """The goal's own budget, with config defaults for what it does not set."""
    own: dict[str, Any] = json.loads(goal["budget"]) if goal["budget"] else {}
    defaults = {
        "max_usd": settings.budget.goal_usd,
        "max_tokens": settings.budget.goal_tokens,
        "max_seconds": settings.budget.goal_seconds,
        "max_iterations": settings.llm.goal_iterations,
    }
    out: dict[str, float] = {}
    for key, default in defaults.items():
        value = own.get(key, default)
        if value is not None:
            out[key] = float(value)
    return out


def usage_of(store: Store | Tx, goal_id: int) -> dict[str, float]:
    usd, tokens, turns = budgets.goal_usage(store, goal_id)
    return {"max_usd": usd, "max_tokens": tokens, "max_iterations": turns}


def daily_limit(store: Store | Tx, settings: Settings, now: float) -> float | None:
    if settings.budget.daily_usd is None:
        return None
    return settings.budget.daily_usd + budgets.daily_raise(store, now)


def check(store: Store | Tx, goal: Row, settings: Settings, now: float) -> Hit | None:
    """The first budget the goal has used up, or ``None``."""
    used = usage_of(store, goal["id"])
    if goal["started_at"]:
        used["max_seconds"] = now - goal["started_at"]
    for key, limit in limits(goal, settings).items():
        if key in used and used[key] >= limit:
            return Hit(key, used[key], limit)
    cap = daily_limit(store, settings, now)
    if cap is not None:
        spent = budgets.spent_since(store, start_of_day(now))
        if spent >= cap:
            return Hit("daily_usd", spent, cap)
    return None


def hold(tx: Tx, goal: Row, step: Row, hit: Hit) -> int:
    """Put the goal in waiting (reason budget), give the step back, and ask; return the approval."""
    message = hit.describe()
    release_step(tx, step)
    raise_to = hit.limit * 2
    detail = (
        f"{message}.\n\nApprove to raise this limit to {raise_to:g} and go on; reject to "
        "stop the goal."
    )
    approval_id = approvals.request(
        tx,
        "budget",
        goal_id=goal["id"],
        step_id=step["id"],
        title=f"budget: {message}",
        detail=detail,
        offer=json.dumps({"key": hit.key, "raise_to": raise_to}),
    )
    wait_goal(tx, goal["id"], "budget", message, approval_id=approval_id)
    return approval_id


def raise_limit(tx: Tx, approval: Row) -> str:
    """Raise the limit that was reached to what the approval offered (double the old one)."""
    offer = json.loads(approval["choice"])
    key, raise_to = offer["key"], float(offer["raise_to"])
    if key == "daily_usd":
        budgets.set_daily_raise(tx, budgets.daily_raise(tx, tx.now) + raise_to / 2)
        return f"today's budget raised to ${raise_to:g}"
    goal = store_goals.goal(tx, approval["goal_id"])
    assert goal is not None
    budget = json.loads(goal["budget"]) if goal["budget"] else {}
    budget[key] = raise_to
    budgets.set_goal_budget(tx, approval["goal_id"], budget)
    return f"{KINDS.get(key, key)} budget raised to {raise_to:g}"
