"""Read-only queries the UI runs on every refresh, shaped for the panes and kept cheap.

``core.views`` serves ``show`` and ``ls``, which read everything once; these read just what a pane
shows, in one statement each, because the UI runs them up to fifteen times a second.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_tui.core.store import Record, Row, Store
from agent_tui.core.store.liveness import live_workers
from agent_tui.core.store.rows import Artifact


@dataclass(frozen=True, slots=True)
class Overview:
    """What the status line shows: global switches and the length of the approvals queue."""

    paused: bool
    dry_run: bool
    approvals: int
    today_calls: int = 0
    today_usd: float | None = 0.0
    """Money spent on model calls since local midnight; ``None`` when a call's cost is unknown."""
    executors: int = 0
    """Executor processes with a recent heartbeat (workers, serve, other TUIs)."""


def overview(store: Store) -> Overview:
    row = store.one("SELECT count(*) AS n FROM approvals WHERE status = 'pending'")
    midnight = datetime.fromtimestamp(store.clock()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    usage = store.one(
        "SELECT count(*) AS n, count(cost) AS known, coalesce(sum(cost), 0) AS usd FROM usage"
        " WHERE ts >= ?",
        (midnight.timestamp(),),
    )
    calls = int(usage["n"]) if usage else 0
    return Overview(
        paused=bool(store.setting("paused", False)),
        dry_run=bool(store.setting("dry_run", False)),
        approvals=int(row["n"]) if row else 0,
        today_calls=calls,
        today_usd=float(usage["usd"]) if usage and usage["known"] == calls else None,
        executors=_live_executors(store),
    )


def _live_executors(store: Store) -> int:
    return len(live_workers(store))


@dataclass(slots=True)
class GoalRow:
    """One line of the goal list; slotted and small, because there may be 100,000 of them."""

    id: int
    title: str
    status: str
    wait_reason: str | None
    status_message: str | None
    priority: int
    dry_run: int
    source: str
    created_at: float
    started_at: float | None
    steps_total: int
    steps_done: int
    model_calls: int
    costs_known: int
    cost: float
    files_changed: int = 0
    """Files its actions changed in the workspace (checkpoints not undone)."""
    counted: bool = True
    """Whether the counts above were read (``False``: zeros until the row is shown)."""

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    @property
    def cost_usd(self) -> float | None:
        """Money spent on model calls; ``None`` when any call's cost is unknown."""
        return self.cost if self.costs_known == self.model_calls else None


GOAL_COLUMNS = (
    "g.id, g.title, g.status, g.wait_reason, g.status_message, g.priority, g.dry_run, g.source,"
    " g.created_at, g.started_at"
)


def goal_rows(
    store: Store, ids: Iterable[int] | None = None, *, counts: bool = True
) -> list[GoalRow]:
    """Goals that are not archived, with their current plan's step counts and model usage.

    With ``ids``, only those goals (a goal archived since is simply missing from the answer):
    correlated subqueries, cheap per goal. Without, every goal: the counts come from one grouped
    pass over steps and usage, which keeps 100,000 goals to one scan each; ``counts=False``
    skips those passes (zeros, and ``counted`` false): the UI reads the goals table alone and
    then the counts of the rows on screen, with ``ids``.
    """
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        return _goal_rows(
            store,
            f"SELECT {GOAL_COLUMNS},"
            " (SELECT count(*) FROM steps s WHERE s.goal_id = g.id"
            "   AND s.plan_version = g.plan_version) AS steps_total,"
            " (SELECT count(*) FROM steps s WHERE s.goal_id = g.id"
            "   AND s.plan_version = g.plan_version"
            "   AND s.status IN ('completed', 'skipped')) AS steps_done,"
            " (SELECT count(*) FROM usage u WHERE u.goal_id = g.id) AS model_calls,"
            " (SELECT count(cost) FROM usage u WHERE u.goal_id = g.id) AS costs_known,"
            " (SELECT coalesce(sum(cost), 0) FROM usage u WHERE u.goal_id = g.id) AS cost,"
            " (SELECT coalesce(sum(files), 0) FROM checkpoints c WHERE c.goal_id = g.id"
            "   AND c.kind = 'action' AND c.undone_by IS NULL) AS files_changed"
            f" FROM goals g WHERE g.archived = 0 AND g.id IN ({marks}) ORDER BY g.id",
            wanted,
        )
    if not counts:
        return _goal_rows(
            store,
            f"SELECT {GOAL_COLUMNS}, 0, 0, 0, 0, 0, 0, 0 FROM goals g WHERE g.archived = 0"
            " ORDER BY g.id",
        )
    return _goal_rows(
        store,
        f"SELECT {GOAL_COLUMNS},"
        " coalesce(s.total, 0) AS steps_total, coalesce(s.done, 0) AS steps_done,"
        " coalesce(u.n, 0) AS model_calls, coalesce(u.known, 0) AS costs_known,"
        " coalesce(u.usd, 0) AS cost, coalesce(c.files, 0) AS files_changed"
        " FROM goals g"
        " LEFT JOIN (SELECT st.goal_id, count(*) AS total,"
        "   sum(CASE WHEN st.status IN ('completed', 'skipped') THEN 1 ELSE 0 END) AS done"
        "   FROM steps st JOIN goals p ON p.id = st.goal_id AND st.plan_version = p.plan_version"
        "   GROUP BY st.goal_id) s ON s.goal_id = g.id"
        " LEFT JOIN (SELECT goal_id, count(*) AS n, count(cost) AS known, sum(cost) AS usd"
        "   FROM usage WHERE goal_id IS NOT NULL GROUP BY goal_id) u ON u.goal_id = g.id"
        " LEFT JOIN (SELECT goal_id, sum(files) AS files FROM checkpoints"
        "   WHERE kind = 'action' AND undone_by IS NULL GROUP BY goal_id) c ON c.goal_id = g.id"
        " WHERE g.archived = 0 ORDER BY g.id",
    )


def _goal_rows(store: Store, sql: str, params: Sequence[Any] = ()) -> list[GoalRow]:
    intern = sys.intern
    rows = []
    for r in store.execute(sql, params):
        row = GoalRow(*r)
        row.status = intern(row.status)
        row.source = intern(row.source)
        rows.append(row)
    return rows


def step_rows(store: Store, goal_id: int) -> list[Record]:
    """The steps of a goal's current plan in order, each with its latest action (or none)."""
    return store.all(
        "SELECT s.id, s.key, s.title, s.kind, s.tool, s.status, s.wait_reason, s.attempt,"
        " s.max_attempts, s.error, s.next_attempt_at, s.started_at, s.finished_at,"
        " a.id AS action_id, a.status AS action_status, a.exit_code,"
        " a.started_at AS action_started_at, a.finished_at AS action_finished_at,"
        " (SELECT coalesce(sum(files), 0) FROM checkpoints c WHERE c.step_id = s.id"
        "   AND c.kind = 'action' AND c.undone_by IS NULL) AS files_changed,"
        " (SELECT coalesce(sum(added), 0) FROM checkpoints c WHERE c.step_id = s.id"
        "   AND c.kind = 'action' AND c.undone_by IS NULL) AS lines_added,"
        " (SELECT coalesce(sum(removed), 0) FROM checkpoints c WHERE c.step_id = s.id"
        "   AND c.kind = 'action' AND c.undone_by IS NULL) AS lines_removed"
        " FROM steps s JOIN goals g ON g.id = s.goal_id AND s.plan_version = g.plan_version"
        " LEFT JOIN actions a ON a.id = (SELECT max(id) FROM actions WHERE step_id = s.id)"
        " WHERE s.goal_id = ? ORDER BY s.position",
        (goal_id,),
    )


def documents(store: Store, goal_id: int) -> list[Artifact]:
    """The latest version of each of a goal's documents, in the order they were first saved."""
    rows = store.all(
        "SELECT a.* FROM artifacts a"
        " WHERE a.goal_id = ? AND a.version = (SELECT max(version) FROM artifacts b"
        "   WHERE b.goal_id = a.goal_id AND b.name = a.name)"
        " ORDER BY (SELECT min(id) FROM artifacts c WHERE c.goal_id = a.goal_id"
        "   AND c.name = a.name)",
        (goal_id,),
    )
    return Artifact.all_of(rows)


def action_row(store: Store, action_id: int) -> Row | None:
    return store.one(
        "SELECT id, step_id, tool, status, preview, exit_code, error, output_bytes, result,"
        " started_at, finished_at, output_host, output_log FROM actions WHERE id = ?",
        (action_id,),
    )


def output_after(store: Store, action_id: int, after_row: int) -> tuple[str, int]:
    """Output rows of an action after row ``after_row``: their text and the last row id read."""
    rows = store.all(
        "SELECT id, text FROM output WHERE action_id = ? AND id > ? ORDER BY id",
        (action_id, after_row),
    )
    if not rows:
        return "", after_row
    return "".join(r["text"] for r in rows), int(rows[-1]["id"])


def has_goals(store: Store) -> bool:
    """Whether the database holds any goal at all (archived ones count: not a first run)."""
    return store.one("SELECT 1 AS x FROM goals LIMIT 1") is not None


def messages_after(store: Store, step_id: int, after_seq: int = 0) -> list[Record]:
    """An agent or plan step's stored transcript after message ``after_seq``, in order."""
    return store.all(
        "SELECT seq, role, content FROM messages WHERE step_id = ? AND seq > ? ORDER BY seq",
        (step_id, after_seq),
    )


def last_message_seq(store: Store, step_id: int) -> int:
    row = store.one("SELECT coalesce(max(seq), 0) AS n FROM messages WHERE step_id = ?", (step_id,))
    return int(row["n"]) if row else 0


def checkpoint_of(store: Store, action_id: int) -> Row | None:
    """The checkpoint of an action (what it changed in the workspace), if one was recorded."""
    return store.one(
        "SELECT id, files, added, removed, changes, undone_by FROM checkpoints"
        " WHERE action_id = ? AND kind = 'action'",
        (action_id,),
    )


def goal_status(store: Store, goal_id: int) -> str | None:
    """A goal's status (``None``: there is no such goal)."""
    row = store.one("SELECT status FROM goals WHERE id = ?", (goal_id,))
    return None if row is None else str(row["status"])


def step_of_action(store: Store, action_id: int) -> int | None:
    """The step an action belongs to."""
    row = store.one("SELECT step_id FROM actions WHERE id = ?", (action_id,))
    return None if row is None else int(row["step_id"])


def pending_approvals_by_goal(store: Store) -> list[Record]:
    """``goal_id`` and ``n``: how many approvals wait, for each goal that has any."""
    return store.all(
        "SELECT goal_id, count(*) AS n FROM approvals WHERE status = 'pending'"
        " GROUP BY goal_id ORDER BY goal_id"
    )


def goals_waiting_not_for_approval(store: Store) -> list[Record]:
    """Listed goals that wait for something other than an approval (a limit, a model, a person's
    answer), with why."""
    return store.all(
        "SELECT id, wait_reason, status_message FROM goals WHERE status = 'waiting'"
        " AND archived = 0 AND (wait_reason IS NULL OR wait_reason != 'approval') ORDER BY id"
    )
