"""Cost and tokens per day and per goal, today's spend against the daily budget, as bar charts.

Read models for ``agent-tui usage`` and the TUI's usage view (``$``). A cost litellm could not
price stays unknown: a day or goal with such a call shows its known part as "at least".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agent_tui.core.clock import start_of_day
from agent_tui.core.store import Store
from agent_tui.core.store.usage import costliest_goals, totals_since
from agent_tui.core.store.views import usage_by_day

BAR = "█"
PARTS = " ▏▎▍▌▋▊▉"
"""Eighth blocks: a bar's end is drawn to an eighth of a cell."""


@dataclass(frozen=True)
class Spend:
    """Model calls, tokens and cost of one day or one goal."""

    label: str
    calls: int
    tokens: int
    cost: float
    cost_known: bool


def by_day(store: Store, days: int = 14) -> list[Spend]:
    """The last ``days`` days that had model calls, oldest first."""
    return [
        Spend(
            d["day"],
            d["model_calls"],
            d["prompt_tokens"] + d["completion_tokens"],
            d["cost_usd_known"],
            d["cost_usd"] is not None,
        )
        for d in reversed(usage_by_day(store, days))
    ]


def by_goal(store: Store, limit: int = 10, since: float | None = None) -> list[Spend]:
    """The goals that cost the most (then used the most tokens), at most ``limit``."""
    rows = costliest_goals(store, since or 0.0, limit)
    return [
        Spend(f"#{r['goal_id']} {r['title']}", r["n"], r["tok"], r["usd"], r["known"] == r["n"])
        for r in rows
    ]


def today(store: Store, now: float | None = None) -> Spend:
    now = time.time() if now is None else now
    t = totals_since(store, start_of_day(now))
    return Spend(
        "today",
        t["model_calls"],
        t["prompt_tokens"] + t["completion_tokens"],
        t["cost_usd_known"],
        t["cost_calls_known"] == t["model_calls"],
    )


def bar(value: float, most: float, width: int) -> str:
    """A horizontal bar of ``value`` out of ``most`` in ``width`` cells (eighths at its end)."""
    if most <= 0 or value <= 0:
        return ""
    eighths = round(min(1.0, value / most) * width * 8)
    full, part = divmod(max(1, eighths), 8)
    return (BAR * full + (PARTS[part] if part else ""))[:width]


def money(spend: Spend) -> str:
    """Dollars; "≥" when some call's cost is unknown, "unknown" when none was priced."""
    if spend.cost_known:
        return f"${spend.cost:.4f}"
    return f"≥ ${spend.cost:.4f}" if spend.cost else "unknown"


def budget_line(spend: Spend, daily_usd: float | None, width: int = 30) -> str:
    """Today's spend against the daily budget: a bar and the share, or "no daily budget"."""
    if daily_usd is None:
        return f"today {money(spend)} · no daily budget ([budget] daily_usd)"
    share = spend.cost / daily_usd
    filled = bar(spend.cost, daily_usd, width)
    return f"today {money(spend)} of ${daily_usd:.2f} ({share:.0%}) [{filled.ljust(width)}]"


def chart(rows: list[Spend], width: int = 40, label_width: int = 28) -> list[str]:
    """One line per row: label, a cost bar (a token bar when nothing was priced), the figures."""
    priced = any(r.cost > 0 for r in rows)
    most = max((r.cost if priced else r.tokens for r in rows), default=0)
    lines = []
    for r in rows:
        label = r.label if len(r.label) <= label_width else r.label[: label_width - 1] + "…"
        drawn = bar(r.cost if priced else r.tokens, most, width)
        lines.append(
            f"{label:<{label_width}} {drawn:<{width}} {money(r):>10} {r.tokens:>9} tok "
            f"{r.calls:>4} call(s)"
        )
    return lines
