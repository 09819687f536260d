"""The selected goal's steps on a time axis (``g``): running apart from each kind of waiting.

Each step is a bar: running, waiting for approval, retry backoff, held by a rate or budget limit,
or queued for a free slot; plan versions are marks on the axis. The chart is re-read from the
database every second while the goal is open, so it grows live; the core builds it
(:mod:`agent_tui.core.timeline`), the same one ``agent-tui show`` and the export print.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Static

from agent_tui.core import timeline
from agent_tui.core.states import GOAL_TERMINAL
from agent_tui.core.store import Store, panes
from agent_tui.ui.away import SurvivesAway, away_safe

STYLES = {
    timeline.RUNNING: "$text-success",
    timeline.APPROVAL: "$text-warning",
    timeline.RETRY: "$text-accent",
    timeline.LIMIT: "$text-error",
    timeline.QUEUED: "$text-muted",
}
LABEL_WIDTH = 16
TOTALS_WIDTH = 20


def chart(line: timeline.Timeline, width: int) -> Content:
    """The chart as styled text ``width`` cells wide: axis, one line per step, legend."""
    versions = {step.plan_version for step in line.lines}
    tag = 4 if len(versions) > 1 else 0
    bar = max(10, width - LABEL_WIDTH - tag - TOTALS_WIDTH - 2)
    span = line.end - line.start
    marks = {
        min(bar - 1, int((when - line.start) / max(span, 1e-9) * bar))
        for when, _ in line.plan_marks
    }
    end_label = timeline.seconds_text(span)
    parts: list[Content | tuple[str, str] | str] = [
        (" " * (LABEL_WIDTH + tag) + "0".ljust(bar - len(end_label)) + end_label + "\n", "dim")
    ]
    for step in line.lines:
        if tag:
            parts.append((f"v{step.plan_version}".ljust(tag), "dim"))
        key = step.key if len(step.key) < LABEL_WIDTH else step.key[: LABEL_WIDTH - 2] + "…"
        parts.append(key.ljust(LABEL_WIDTH))
        for col, kind in enumerate(timeline.cells(step, line.start, line.end, bar)):
            if kind is not None:
                parts.append((timeline.GLYPHS[kind], STYLES[kind]))
            else:
                parts.append(("┆", "dim") if col in marks else " ")
        waited = f" +{timeline.seconds_text(step.waiting)}" if step.waiting >= 0.05 else ""
        ran = f"  {timeline.seconds_text(step.running)}{waited}" if step.segments else ""
        parts.append((f"{ran}\n", "dim"))
    parts.append("\n")
    for kind, label in (
        (timeline.RUNNING, "running"),
        (timeline.APPROVAL, "approval"),
        (timeline.RETRY, "retry backoff"),
        (timeline.LIMIT, "rate/budget limit"),
        (timeline.QUEUED, "queued"),
    ):
        parts += [(timeline.GLYPHS[kind], STYLES[kind]), f" {label}  "]
    if line.plan_marks:
        parts += [("┆", "dim"), " new plan version"]
    return Content.assemble(*parts)


class GanttScreen(SurvivesAway, ModalScreen[None]):
    """One goal's timeline, refreshed every second while the goal is not finished."""

    CSS_PATH = "gantt.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,g,q", "close", "Close", id="gantt_close"),
    ]

    def __init__(self, store: Store, goal_id: int, title: str) -> None:
        super().__init__()
        self.store = store
        self.goal_id = goal_id
        self.goal_title = title
        self._final = False
        """The goal had finished at the last redraw: nothing will change any more."""

    def compose(self) -> ComposeResult:
        with Vertical(id="gantt"):
            yield Static(
                f"Timeline · goal {self.goal_id} · {self.goal_title}",
                id="gantt-title",
                markup=False,
            )
            with VerticalScroll(id="gantt-scroll"):
                yield Static("", id="gantt-chart")
            yield Static(
                "each step: ran, +waited · escape or g closes", id="gantt-keys", markup=False
            )

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, away_safe(self, self._tick))

    def on_resize(self, event: Resize) -> None:
        self.redraw()

    def _tick(self) -> None:
        """Redraw while the goal is open, and once more when it has just finished."""
        status = panes.goal_status(self.store, self.goal_id)
        if status is None or self._final:
            return
        self._final = status in GOAL_TERMINAL
        self.redraw()

    def redraw(self) -> None:
        line = timeline.build(self.store, self.goal_id)
        view = self.query_one("#gantt-chart", Static)
        if line is None or not any(step.segments for step in line.lines):
            view.update("Nothing has run yet.")
            return
        width = self.query_one("#gantt-scroll").content_region.width or self.size.width - 6
        view.update(chart(line, width))

    def action_close(self) -> None:
        self.dismiss(None)
