"""The timeline (Gantt) of a goal: running apart from waiting, in the core, ``show`` and export."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core import control, timeline
from agent_tui.core.export import export_goal, render_markdown
from tests.conftest import CLI, cli_env
from tests.helpers import add, echo, pending_approvals, run_idle, shell, the_store


class Clock:
    """A clock the test moves: the journal's times are exactly what the test says."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_waiting_for_approval_is_drawn_apart_from_running(
    home: Path, settings: Settings
) -> None:
    clock = Clock(1_000.0)
    store = the_store(home, clock=clock)
    goal = add(
        store,
        {
            "title": "Asks first",
            "steps": [shell("ask", "echo hi"), echo("after", "x", depends_on=["ask"])],
        },
    )
    await run_idle(store, settings)
    clock.now = 1_090.0  # a person decides a minute and a half later
    [approval] = pending_approvals(store)
    control.approve(store, approval["id"])
    await run_idle(store, settings)

    line = timeline.build(store, goal)
    assert line is not None
    ask, after = line.lines
    assert ask.totals.get(timeline.APPROVAL) == 90.0
    assert ask.waiting == 90.0 and ask.running == 0.0
    assert [s.kind for s in ask.segments] == ["approval"]
    assert after.waiting == 0.0
    assert line.start == 1_000.0 and line.end == 1_090.0

    chart = timeline.render_text(line, 80)
    assert chart[1].startswith("ask ") and "▒" in chart[1] and "waited 1.5 min" in chart[1]
    assert "▒" not in chart[2]
    assert chart[-1].startswith("█ running  ▒ waiting for approval")

    doc = export_goal(store, goal)
    assert doc is not None
    assert doc["gantt"]["steps"][0]["seconds"]["approval"] == 90.0
    assert "### Running and waiting" in render_markdown(doc)
    store.close()

    shown = subprocess.run(
        [*CLI, "show", str(goal)], env=cli_env(home), capture_output=True, text=True, timeout=60
    )
    assert "timeline:" in shown.stdout and "waited 1.5 min" in shown.stdout
    [row] = [r for r in shown.stdout.splitlines() if r.strip().startswith("✓ ask")]
    assert row.split()[-2:] == ["1.5", "min"]  # the waiting column, not the step's wall time
    data = json.loads(
        subprocess.run(
            [*CLI, "show", str(goal), "--json"], env=cli_env(home), capture_output=True, text=True
        ).stdout
    )
    assert data["gantt"]["steps"][0]["waiting_seconds"] == 90.0


async def test_a_rate_limit_and_a_retry_are_their_own_waits(home: Path, settings: Settings) -> None:
    """The journal of an agent step held by a rate limit, then retried after a 5xx."""
    clock = Clock(1_000.0)
    store = the_store(home, clock=clock)
    goal = add(store, {"title": "Model work", "steps": [echo("think", "x")]})
    step = store.one("SELECT id FROM steps WHERE goal_id = ?", (goal,))["id"]

    def at(when: float, kind: str, **data: object) -> None:
        clock.now = when
        with store.write() as tx:
            ids = (
                {"goal_id": goal}
                if kind.startswith("goal.")
                else {"goal_id": goal, "step_id": step}
            )
            tx.event(kind, kind, **ids, **data)

    at(1_000, "step.started")
    at(1_010, "goal.waiting", reason="rate limit")
    at(1_070, "goal.resumed")
    at(1_080, "step.retry_wait")
    at(1_100, "step.ready")
    at(1_105, "step.started")
    at(1_125, "step.completed")
    line = timeline.build(store, goal)
    assert line is not None
    [think] = line.lines
    assert [(s.kind, s.start, s.end) for s in think.segments] == [
        ("running", 1_000, 1_010),
        ("limit", 1_010, 1_070),
        ("running", 1_070, 1_080),
        ("retry", 1_080, 1_100),
        ("queued", 1_100, 1_105),
        ("running", 1_105, 1_125),
    ]
    assert think.running == 40 and think.waiting == 85
    assert "↻" in timeline.render_text(line, 80)[1] and "░" in timeline.render_text(line, 80)[1]
    store.close()
