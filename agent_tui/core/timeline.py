"""A goal's steps on a time axis: when each ran, and when and why it waited (a Gantt chart).

Built from the event journal, which records every state change with its time: a step runs from
``step.started`` or ``action.running``, waits for a person from ``approval.requested`` until the
decision, waits for a retry from ``step.retry_wait`` until ``step.ready``, and waits in the queue
for a slot in between. A goal held by a rate limit, the daily limit or its budget turns its steps'
queueing into that wait. Plan versions are marks on the axis. The same split gives each step's
running and waiting seconds, for ``show``, the export and the TUI's chart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_tui.core.store import Row, Store
from agent_tui.core.store.views import goal_events, goal_row, step_times

RUNNING, APPROVAL, RETRY, LIMIT, QUEUED = "running", "approval", "retry", "limit", "queued"
KINDS = (RUNNING, APPROVAL, RETRY, LIMIT, QUEUED)
"""Segment kinds, most important first: a chart cell shows the first kind that touches it."""
GLYPHS = {RUNNING: "█", APPROVAL: "▒", RETRY: "↻", LIMIT: "░", QUEUED: "·"}
"""One character per kind for plain-text charts (``show``, the export)."""
LEGEND = "█ running  ▒ waiting for approval  ↻ retry backoff  ░ rate/budget limit  · queued"

_STATE_OF_EVENT = {
    "step.started": RUNNING,
    "action.running": RUNNING,
    "approval.requested": APPROVAL,
    "step.unknown": APPROVAL,
    "approval.approved": QUEUED,
    "approval.rejected": QUEUED,
    "approval.withdrawn": QUEUED,
    "step.retry_wait": RETRY,
    "step.ready": QUEUED,
    "step.recovered": QUEUED,
}
_END_EVENTS = {"step.completed", "step.failed"}


@dataclass(frozen=True)
class Segment:
    """``kind`` from ``start`` to ``end`` (Unix seconds)."""

    kind: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class StepLine:
    """One step's segments, and its totals per kind."""

    step_id: int
    key: str
    plan_version: int
    status: str
    segments: tuple[Segment, ...]
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def running(self) -> float:
        return self.totals.get(RUNNING, 0.0)

    @property
    def waiting(self) -> float:
        return sum(v for k, v in self.totals.items() if k != RUNNING)


@dataclass(frozen=True)
class Timeline:
    """A goal's chart: its steps in plan order, the axis, and where plan versions begin."""

    goal_id: int
    start: float
    end: float
    lines: tuple[StepLine, ...]
    plan_marks: tuple[tuple[float, int], ...]
    """``(time, version)`` of each plan version after the first."""


def _limit_windows(events: Sequence[Row], now: float) -> list[tuple[float, float]]:
    """When the goal was held by a limit (rate limit, daily limit, budget)."""
    windows: list[tuple[float, float]] = []
    opened: float | None = None
    for event in events:
        if event["step_id"] is not None:
            continue
        data = json.loads(event["data"]) if event["data"] else {}
        if event["kind"] == "goal.waiting" and data.get("reason") not in (None, "approval"):
            opened = opened if opened is not None else event["ts"]
        elif event["kind"] in ("goal.resumed", "goal.cancelled", "goal.failed") and opened:
            windows.append((opened, event["ts"]))
            opened = None
    if opened is not None:
        windows.append((opened, now))
    return windows


def _split_by_limits(segment: Segment, windows: list[tuple[float, float]]) -> list[Segment]:
    """A queued or running stretch inside a limit window is that limit's wait: a step that hits
    a rate limit is given back without an event of its own, and its goal waits."""
    if segment.kind not in (QUEUED, RUNNING):
        return [segment]
    pieces, cursor = [], segment.start
    for lo, hi in windows:
        lo, hi = max(lo, segment.start), min(hi, segment.end)
        if lo >= hi:
            continue
        if lo > cursor:
            pieces.append(Segment(segment.kind, cursor, lo))
        pieces.append(Segment(LIMIT, lo, hi))
        cursor = hi
    if cursor < segment.end:
        pieces.append(Segment(segment.kind, cursor, segment.end))
    return pieces


def build(store: Store, goal_id: int, now: float | None = None) -> Timeline | None:
    """The timeline of ``goal_id`` as of ``now`` (default: the store's clock); ``None``: no goal."""
    now = store.clock() if now is None else now
    goal = goal_row(store, goal_id)
    if goal is None:
        return None
    steps = step_times(store, goal_id)
    events = goal_events(store, goal_id)
    windows = _limit_windows(events, now)
    by_step: dict[int, list[Row]] = {}
    for event in events:
        if event["step_id"] is not None:
            by_step.setdefault(event["step_id"], []).append(event)
    lines = []
    for step in steps:
        segments = _segments(step, by_step.get(step["id"], []), now)
        split = [piece for s in segments for piece in _split_by_limits(s, windows)]
        totals: dict[str, float] = {}
        for s in split:
            totals[s.kind] = totals.get(s.kind, 0.0) + s.seconds
        lines.append(
            StepLine(
                step_id=step["id"],
                key=step["key"],
                plan_version=step["plan_version"],
                status=step["status"],
                segments=tuple(split),
                totals=totals,
            )
        )
    starts = [s.start for line in lines for s in line.segments]
    ends = [s.end for line in lines for s in line.segments]
    start = min(starts, default=goal["started_at"] or goal["created_at"])
    end = max(ends, default=start)
    marks = tuple(
        (e["ts"], int(json.loads(e["data"]).get("version", 0)))
        for e in events
        if e["kind"] == "goal.planned" and e["data"] and json.loads(e["data"]).get("version", 1) > 1
    )
    return Timeline(goal_id, start, max(end, start), tuple(lines), marks)


def _segments(step: Row, events: list[Row], now: float) -> list[Segment]:
    """A step's state changes as segments; an unfinished step's last one runs until ``now``."""
    segments: list[Segment] = []
    state: str | None = None
    since = 0.0
    for event in events:
        kind = event["kind"]
        new = None if kind in _END_EVENTS else _STATE_OF_EVENT.get(kind)
        if kind not in _END_EVENTS and new is None:
            continue
        if state is not None and event["ts"] >= since and new != state:
            segments.append(Segment(state, since, event["ts"]))
        if new != state:
            state, since = new, event["ts"]
        if kind in _END_EVENTS:
            state = None
    if state is not None:
        end = step["finished_at"] if step["finished_at"] is not None else now
        if end > since:
            segments.append(Segment(state, since, end))
    return [s for s in segments if s.end > s.start]


def cells(line: StepLine, start: float, end: float, width: int) -> list[str | None]:
    """The kind shown in each of ``width`` columns from ``start`` to ``end`` (``None``: idle).

    Every segment marks at least one column, so a 50 ms step is still visible on an hour's axis.
    """
    width = max(1, width)
    span = max(end - start, 1e-9)
    out: list[str | None] = [None] * width
    rank = {k: i for i, k in enumerate(KINDS)}
    for seg in line.segments:
        first = int((seg.start - start) / span * width)
        last = int((seg.end - start) / span * width - 1e-9)
        first = min(max(first, 0), width - 1)
        last = min(max(last, first), width - 1)
        for col in range(first, last + 1):
            current = out[col]
            if current is None or rank[seg.kind] < rank[current]:
                out[col] = seg.kind
    return out


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def render_text(timeline: Timeline, width: int = 100) -> list[str]:
    """The chart as plain lines: a header with the span, one line per step, the legend."""
    label = max((len(line.key) for line in timeline.lines), default=4)
    label = min(max(label, 4), 24)
    versions = {line.plan_version for line in timeline.lines}
    tag = len(versions) > 1
    totals_width = 22
    bar_width = max(10, width - label - totals_width - (4 if tag else 0) - 3)
    span = timeline.end - timeline.start
    lines = [
        f"{'':<{label + (4 if tag else 0)}} |{'0':<{bar_width - len(seconds_text(span))}}"
        f"{seconds_text(span)}|"
    ]
    for line in timeline.lines:
        row = "".join(
            GLYPHS[k] if k else " " for k in cells(line, timeline.start, timeline.end, bar_width)
        )
        for when, _ in timeline.plan_marks:
            col = int((when - timeline.start) / max(span, 1e-9) * bar_width)
            if 0 <= col < bar_width and row[col] == " ":
                row = row[:col] + "┆" + row[col + 1 :]
        version = f"v{line.plan_version} " if tag else ""
        waited = f", waited {seconds_text(line.waiting)}" if line.waiting >= 0.05 else ""
        lines.append(
            f"{version}{line.key[:label]:<{label}} |{row}| ran {seconds_text(line.running)}{waited}"
        )
    lines.append(LEGEND + ("  ┆ new plan version" if timeline.plan_marks else ""))
    return lines


def as_json(timeline: Timeline) -> dict[str, object]:
    """The timeline for ``show --json`` and the JSON export."""
    return {
        "start": timeline.start,
        "end": timeline.end,
        "plan_versions": [{"at": at, "version": v} for at, v in timeline.plan_marks],
        "steps": [
            {
                "step_id": line.step_id,
                "key": line.key,
                "plan_version": line.plan_version,
                "status": line.status,
                "running_seconds": round(line.running, 3),
                "waiting_seconds": round(line.waiting, 3),
                "seconds": {k: round(v, 3) for k, v in line.totals.items()},
                "segments": [
                    {"kind": s.kind, "start": s.start, "end": s.end} for s in line.segments
                ],
            }
            for line in timeline.lines
        ],
    }
