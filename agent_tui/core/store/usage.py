"""Model calls' usage (``usage``: tokens and cost per call) summed for the spend charts.

Totals per goal and per day for ``show`` and ``ls`` are :mod:`.views`'.
"""

from __future__ import annotations

from typing import Any

from agent_tui.core.store import Record, Store
from agent_tui.core.store.views import usage_totals


def costliest_goals(store: Store, since: float, limit: int) -> list[Record]:
    """Per goal with calls since ``since``, the most costly first (then the most tokens):
    ``goal_id``, ``title`` (``(deleted)`` for a goal gone), calls ``n``, calls priced
    ``known``, cost ``usd`` of those, tokens ``tok``."""
    return store.all(
        "SELECT u.goal_id, coalesce(g.title, '(deleted)') AS title, count(*) AS n,"
        " count(u.cost) AS known, coalesce(sum(u.cost), 0) AS usd,"
        " coalesce(sum(u.prompt_tokens), 0) + coalesce(sum(u.completion_tokens), 0) AS tok"
        " FROM usage u LEFT JOIN goals g ON g.id = u.goal_id WHERE u.ts >= ?"
        " GROUP BY u.goal_id, g.title ORDER BY usd DESC, tok DESC LIMIT ?",
        (since, limit),
    )


def totals_since(store: Store, since: float) -> dict[str, Any]:
    """Model calls, tokens and cost since ``since``, as :func:`.views.usage_totals` gives them."""
    return usage_totals(store, "ts >= ?", (since,))


def by_model(store: Store, goal_id: int) -> list[Record]:
    """A goal's calls per model (by name): ``model_calls``, ``prompt_tokens``,
    ``completion_tokens`` and ``cost_usd`` (``None`` when some call's cost is unknown)."""
    return store.all(
        "SELECT model, count(*) AS model_calls, coalesce(sum(prompt_tokens), 0) AS prompt_tokens,"
        " coalesce(sum(completion_tokens), 0) AS completion_tokens,"
        " CASE WHEN count(cost) = count(*) THEN coalesce(sum(cost), 0) END AS cost_usd"
        " FROM usage WHERE goal_id = ? GROUP BY model ORDER BY model",
        (goal_id,),
    )
