"""The spend read models behind ``agent-tui usage`` and the usage view: per day, per goal, today
against the budget, and the bars drawn to an eighth of a cell. A real SQLite store."""

from __future__ import annotations

import time

from agent_tui.core import spend
from agent_tui.core.clock import start_of_day
from agent_tui.core.spend import Spend
from agent_tui.core.store import Store

DAY = 86400.0


def goal(store: Store, goal_id: int, title: str) -> None:
    now = time.time()
    with store.write() as tx:
        tx.execute(
            "INSERT INTO goals (id, title, source, status, priority, workspace, plan_version,"
            " created_at, updated_at) VALUES (?, ?, 'text', 'completed', 5, '', 1, ?, ?)",
            (goal_id, title, now, now),
        )


def call(store: Store, ts: float, goal_id: int | None, cost: float | None, tokens: int) -> None:
    """One model call as the usage table records it: half prompt, half completion tokens."""
    with store.write() as tx:
        tx.execute(
            "INSERT INTO usage (ts, goal_id, model, prompt_tokens, completion_tokens, cost)"
            " VALUES (?, ?, 'm', ?, ?, ?)",
            (ts, goal_id, tokens // 2, tokens - tokens // 2, cost),
        )


def test_days_oldest_first_with_unknown_costs_kept_apart(store: Store) -> None:
    today = start_of_day(time.time()) + 3600  # well inside today, whatever the hour
    call(store, today - 2 * DAY, None, 0.25, 100)
    call(store, today - 2 * DAY, None, 0.50, 300)
    call(store, today, None, None, 40)
    call(store, today, None, 0.10, 60)

    older, latest = spend.by_day(store)

    assert older.label < latest.label
    assert (older.calls, older.tokens, older.cost, older.cost_known) == (2, 400, 0.75, True)
    assert (latest.calls, latest.tokens, latest.cost, latest.cost_known) == (2, 100, 0.10, False)
    assert spend.money(older) == "$0.7500"
    assert spend.money(latest) == "≥ $0.1000"
    assert spend.by_day(store, days=1) == [latest]


def test_goals_by_cost_then_tokens(store: Store) -> None:
    now = time.time()
    goal(store, 1, "Cheap but chatty")
    goal(store, 2, "Dear")
    goal(store, 3, "Free and chatty")
    call(store, now, 1, 0.01, 5000)
    call(store, now, 2, 0.40, 100)
    call(store, now, 3, 0.0, 9000)
    call(store, now, 3, 0.0, 1000)
    goal(store, 4, "Never priced")
    call(store, now, 4, None, 10)

    rows = spend.by_goal(store)

    assert [r.label for r in rows] == [
        "#2 Dear",
        "#1 Cheap but chatty",
        "#3 Free and chatty",
        "#4 Never priced",
    ]
    assert rows[2].calls == 2 and rows[2].tokens == 10000
    assert spend.money(rows[3]) == "unknown"
    assert [r.label for r in spend.by_goal(store, limit=1)] == ["#2 Dear"]
    assert spend.by_goal(store, since=now + 1) == []


def test_today_counts_only_today(store: Store) -> None:
    now = time.time()
    call(store, start_of_day(now) - 1, None, 5.0, 1000)  # the last second of yesterday
    call(store, now, None, 0.20, 30)

    today = spend.today(store, now)

    assert (today.calls, today.tokens, today.cost, today.cost_known) == (1, 30, 0.20, True)
    assert spend.today(store).calls == 1
    empty = spend.today(store, now + 2 * DAY)
    assert (empty.calls, empty.cost, empty.cost_known) == (0, 0, True)


def test_bars_end_in_eighths_and_never_overflow() -> None:
    assert spend.bar(1, 1, 10) == "█" * 10
    assert spend.bar(5, 1, 10) == "█" * 10  # over the most: clipped to the width
    assert spend.bar(0.5, 1, 3) == "█▌"  # 12 eighths: one full cell and a half
    assert spend.bar(1e-9, 1, 10) == "▏"  # anything at all shows as an eighth
    assert spend.bar(0, 1, 10) == spend.bar(1, 0, 10) == spend.bar(-1, 1, 10) == ""


def test_the_budget_line_with_and_without_a_budget() -> None:
    spent = Spend("today", 3, 300, 0.25, True)

    assert spend.budget_line(spent, None) == (
        "today $0.2500 · no daily budget ([budget] daily_usd)"
    )
    line = spend.budget_line(spent, 1.0, width=8)
    assert line == "today $0.2500 of $1.00 (25%) [██      ]"


def test_a_chart_draws_costs_or_tokens_when_nothing_was_priced() -> None:
    priced = [Spend("a", 1, 10, 2.0, True), Spend("b", 1, 9999, 1.0, True)]
    a, b = spend.chart(priced, width=4, label_width=6)
    assert a.startswith("a      ████ ") and b.startswith("b      ██   ")

    unpriced = [Spend("tokens-heavy label", 1, 400, 0.0, False), Spend("c", 2, 100, 0.0, False)]
    heavy, light = spend.chart(unpriced, width=4, label_width=6)
    assert heavy.startswith("token… ████ ")  # truncated to the label width, with an ellipsis
    assert light.startswith("c      █    ")
    assert "unknown" in heavy and "400 tok" in heavy and "2 call(s)" in light
    assert spend.chart([]) == []
