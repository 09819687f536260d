"""``agent-tui usage``: bars per day and per goal, today against the daily budget."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from agent_tui.core.store import Store
from tests.conftest import CLI, cli_env


def test_usage_charts_per_day_and_goal(store: Store, home: Path) -> None:
    now = time.time()
    with store.write() as tx:
        for goal_id, title in ((1, "Weekly report"), (2, "Tidy notes")):
            tx.execute(
                "INSERT INTO goals (id, title, source, status, priority, workspace, plan_version,"
                " created_at, updated_at) VALUES (?, ?, 'text', 'completed', 5, '', 1, ?, ?)",
                (goal_id, title, now, now),
            )
        for goal_id, cost in ((1, 0.30), (1, 0.10), (2, 0.05), (2, None)):
            tx.execute(
                "INSERT INTO usage (ts, goal_id, model, prompt_tokens, completion_tokens, cost)"
                " VALUES (?, ?, 'm', 100, 20, ?)",
                (now, goal_id, cost),
            )
    env = cli_env(home, AGENT_TUI_BUDGET__DAILY_USD="1")
    out = subprocess.run([*CLI, "usage"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    [weekly] = [line for line in lines if "#1 Weekly report" in line]
    [tidy] = [line for line in lines if "#2 Tidy notes" in line]
    assert weekly.count("█") == 40 and "$0.4000" in weekly  # the most expensive: a full bar
    assert 1 <= tidy.count("█") < 10 and "≥ $0.0500" in tidy  # one call's cost is unknown
    assert lines[-1].startswith("today ≥ $0.4500 of $1.00 (45%) [")
    data = json.loads(
        subprocess.run(
            [*CLI, "usage", "--json"], env=env, capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert data["daily_budget_usd"] == 1.0 and data["today"]["calls"] == 4
    assert [g["label"] for g in data["goals"]] == ["#1 Weekly report", "#2 Tidy notes"]
