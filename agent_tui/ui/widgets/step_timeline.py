"""The step timeline of one goal: key, status, tool, attempt, duration and why it waits or failed.

A :class:`~textual.widgets.DataTable`: one goal's plan is small and bounded. Cells are plain
:class:`~rich.text.Text`, never markup, because errors and keys may contain brackets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable

from agent_tui.core.display import changes_summary as summary
from agent_tui.core.states import ActionStatus, StepStatus
from agent_tui.core.store import Row
from agent_tui.ui.away import SurvivesAway, away_safe
from agent_tui.ui.format import DRY_RUN_GLYPH, duration, glyph, one_line

A, S = ActionStatus, StepStatus

TICKING = (S.RUNNING, S.RETRY_WAIT)
"""Statuses whose row shows a time that moves (how long it has run, when it retries)."""

COLUMNS = (
    ("step", "key"),
    ("status", "status"),
    ("tool", "tool"),
    ("try", "attempt"),
    ("time", "time"),
    ("note", "note"),
)
LABELS = {"waiting_approval": "approval", "retry_wait": "retry", "completed": "done"}
"""Short status labels, so the table fits beside the other panes at 120 columns."""


def note(step: Row, now: float) -> str:
    """Why a step waits, or what went wrong, in one line."""
    status = step["status"]
    if status == S.RETRY_WAIT and step["next_attempt_at"]:
        left = max(0.0, step["next_attempt_at"] - now)
        return f"retry in {left:.0f} s: {one_line(step['error'], 80)}"
    if status in (S.FAILED, S.CANCELLED, S.UNKNOWN) and step["error"]:
        return one_line(step["error"], 120)
    if status == S.COMPLETED and step["action_status"] == A.DRY_RUN:
        return "not executed (dry run)"
    if status == S.COMPLETED and step["exit_code"] not in (None, 0):
        return f"exit {step['exit_code']}"
    if step["wait_reason"] and status in (S.WAITING_APPROVAL, S.UNKNOWN, S.READY):
        return str(step["wait_reason"])
    if step.get("files_changed"):
        return summary(step["files_changed"], step["lines_added"], step["lines_removed"])
    return ""


def cells(step: Row, now: float) -> tuple[Text, ...]:
    """The row of one step; its time is its latest action's, so waiting is not counted."""
    attempt = str(step["attempt"] or "")
    if step["status"] in (S.RUNNING, S.RETRY_WAIT) and step["max_attempts"] > 1:
        attempt = f"{step['attempt']}/{step['max_attempts']}"
    took = ""
    if step["action_started_at"] is not None:
        running = step["action_status"] == A.RUNNING
        end = None if running else step["action_finished_at"]
        took = duration(step["action_started_at"], end, now) if running or end else ""
    label = f"{glyph(step['status'])} {LABELS.get(step['status'], step['status'])}"
    if step["status"] == S.COMPLETED and step["action_status"] == A.DRY_RUN:
        label = f"{DRY_RUN_GLYPH} dry run"
    return (
        Text(step["key"]),
        Text(label),
        Text(step["tool"] or ""),
        Text(attempt),
        Text(took),
        Text(note(step, now)),
    )


class StepTimeline(SurvivesAway, DataTable[Text]):
    """The selected goal's steps; moving the cursor posts :class:`StepTimeline.Highlighted`."""

    class Highlighted(Message):
        """The highlighted step changed (``None``: no step)."""

        def __init__(self, step_id: int | None) -> None:
            super().__init__()
            self.step_id = step_id

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.clock = clock
        """The time running steps are measured against (the store's clock, fixed in tests)."""
        self.steps: Sequence[Row] = []
        self._current: int | None = None
        self._ticker: Timer | None = None
        self.ticking = False
        """Whether the times are advanced each second (only while a row's time moves)."""

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)
        # Runs only while a step runs or waits to retry: an idle TUI is not woken for nothing.
        self._ticker = self.set_interval(1.0, away_safe(self, self._tick), pause=True)
        self._keep_time(self.steps)

    @property
    def step_id(self) -> int | None:
        """The highlighted step's id."""
        if not self.steps or self.cursor_row >= len(self.steps):
            return None
        return int(self.steps[self.cursor_row]["id"])

    def step(self, step_id: int | None) -> Row | None:
        return next((r for r in self.steps if r["id"] == step_id), None)

    def show(self, rows: Sequence[Row]) -> None:
        """Show ``rows``; update cells in place when the plan is the same, keep the cursor."""
        self._keep_time(rows)
        now = self.clock()
        if rows and [r["id"] for r in rows] == [r["id"] for r in self.steps]:
            for old, new in zip(self.steps, rows, strict=True):
                if old != new:
                    self._update_row(new, now)
            self.steps = rows
            return
        keep = self.step_id
        self.steps = rows
        self.clear()
        for row in rows:
            self.add_row(*cells(row, now), key=str(row["id"]))
        ids = [r["id"] for r in rows]
        if keep in ids:
            self.move_cursor(row=ids.index(keep))
        self._announce(self.step_id)

    def _update_row(self, row: Row, now: float) -> None:
        key = str(row["id"])
        for (_, column), value in zip(COLUMNS, cells(row, now), strict=True):
            self.update_cell(key, column, value, update_width=True)

    def _keep_time(self, rows: Sequence[Row]) -> None:
        """Tick each second while a row's time moves (a running step, a retry countdown)."""
        self.ticking = any(r["status"] in TICKING for r in rows)
        if self._ticker is None:
            return
        if self.ticking:
            self._ticker.resume()
        else:
            self._ticker.pause()

    def _tick(self) -> None:
        """Advance the durations of running steps and the retry countdowns."""
        now = self.clock()
        for row in self.steps:
            if row["status"] in TICKING:
                self._update_row(row, now)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._announce(self.step_id)

    def _announce(self, step_id: int | None) -> None:
        if step_id != self._current:
            self._current = step_id
            self.post_message(self.Highlighted(step_id))
