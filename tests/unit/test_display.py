"""How durations, statuses and journal lines read, the same in the TUI, the CLI and the export."""

from __future__ import annotations

from datetime import datetime

import pytest

from agent_tui.core.display import duration, glyph, style
from agent_tui.core.events import format_event
from agent_tui.core.store import Event


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.04, "40 ms"), (0.9994, "999 ms"), (2.44, "2.4 s"), (150, "2.5 min"), (4320, "1.2 h")],
)
def test_a_duration_in_the_unit_that_reads_best(seconds: float, shown: str) -> None:
    assert duration(1000.0, 1000.0 + seconds) == shown


def test_a_duration_without_an_end_runs_to_now_and_never_goes_negative() -> None:
    assert duration(None, 5.0) == ""
    assert duration(100.0, None, now=103.0) == "3.0 s"
    assert duration(100.0, 90.0) == "0 ms"  # a clock step backwards


def test_statuses_not_listed_look_plain() -> None:
    assert (glyph("completed"), style("failed")) == ("✓", "$text-error")
    assert (glyph("no-such-status"), style("no-such-status")) == ("·", "")


def test_a_journal_line_names_the_goal_or_the_executor() -> None:
    ts = datetime(2026, 3, 4, 9, 5, 7).timestamp()
    of_goal = Event(1, ts, "step.completed", "step 'a' completed", 12, 3, None, {})
    of_executor = Event(2, ts, "executor.started", "worker executor started", None, None, None, {})

    assert format_event(of_goal) == ("09:05:07 goal 12   step.completed       step 'a' completed")
    assert format_event(of_executor) == (
        "09:05:07 executor  executor.started     worker executor started"
    )
