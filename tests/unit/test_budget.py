"""Budgets: which limit is hit, the daily money budget, and raising a limit."""

from __future__ import annotations

import json

from agent_tui.config import Settings
from agent_tui.core import budget
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Store


def _usage(store: Store, goal_id: int, cost: float | None, tokens: int = 10) -> None:
    with store.write() as tx:
        tx.insert(
            "usage",
            {
                "ts": tx.now,
                "goal_id": goal_id,
                "model": "m",
                "prompt_tokens": tokens,
                "completion_tokens": 0,
                "cost": cost,
            },
        )


def test_each_goal_limit(store: Store) -> None:
    settings = Settings()
    goal_id = add_text_goal(store, "g", budget={"max_usd": 0.5, "max_tokens": 100})
    goal = store.one("SELECT * FROM goals WHERE id = ?", (goal_id,))
    assert budget.check(store, goal, settings, store.clock()) is None
    _usage(store, goal_id, 0.2, tokens=60)
    assert budget.check(store, goal, settings, store.clock()) is None
    _usage(store, goal_id, 0.1, tokens=60)
    hit = budget.check(store, goal, settings, store.clock())
    assert hit is not None and hit.key == "max_tokens" and hit.used == 120
    assert "120 tokens of 100 tokens" in hit.describe()


def test_unknown_cost_counts_as_unknown_not_zero_in_totals(store: Store) -> None:
    from agent_tui.core.store.views import usage_totals

    goal_id = add_text_goal(store, "g")
    _usage(store, goal_id, 0.25)
    _usage(store, goal_id, None)
    totals = usage_totals(store, "goal_id = ?", (goal_id,))
    assert totals["cost_usd"] is None and totals["cost_usd_known"] == 0.25


def test_daily_budget_and_raise(store: Store) -> None:
    settings = Settings()
    settings.budget.daily_usd = 1.0
    goal_id = add_text_goal(store, "g")
    goal = store.one("SELECT * FROM goals WHERE id = ?", (goal_id,))
    _usage(store, goal_id, 1.2)
    hit = budget.check(store, goal, settings, store.clock())
    assert hit is not None and hit.key == "daily_usd"
    with store.write() as tx:
        approval = {"goal_id": goal_id, "choice": json.dumps({"key": "daily_usd", "raise_to": 2.0})}
        assert budget.raise_limit(tx, approval) == "today's budget raised to $2"
    assert budget.daily_limit(store, settings, store.clock()) == 2.0
    assert budget.check(store, goal, settings, store.clock()) is None


def test_wall_time(store: Store) -> None:
    settings = Settings()
    goal_id = add_text_goal(store, "g", budget={"max_seconds": 10})
    with store.write() as tx:
        tx.execute("UPDATE goals SET started_at = ? WHERE id = ?", (tx.now - 11, goal_id))
    goal = store.one("SELECT * FROM goals WHERE id = ?", (goal_id,))
    hit = budget.check(store, goal, settings, store.clock())
    assert hit is not None and hit.key == "max_seconds"
