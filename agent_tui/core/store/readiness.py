"""What the executor asks the database before it acts: is there work, is timed work due, when is
the next timed event, is everything idle. Reads only, each one cheap (an EXISTS or a min over an
index), so the executor can ask before it opens a write transaction.
"""

from __future__ import annotations

from agent_tui.core.store import Record, Store
from agent_tui.core.store.placement import ANYWHERE, Placement


def work_waiting(store: Store, *, with_model: bool, placement: Placement = ANYWHERE) -> bool:
    """Whether a ready step exists that this executor may run (agent steps need a model; the
    goal's label and host must be this executor's, see :mod:`.placement`)."""
    where, params = placement.where("g")
    row = store.execute(
        "SELECT EXISTS(SELECT 1 FROM steps s JOIN goals g ON g.id = s.goal_id"
        " WHERE s.status = 'ready' AND (s.kind = 'tool' OR ? = 1)" + where + ")",
        (with_model, *params),
    ).fetchone()
    return bool(row[0])


def model_waits_due(store: Store, *, with_model: bool) -> bool:
    """Goals to put in waiting for a model (none configured, and a model step is ready), or to
    take out of it (a model is there now)."""
    if with_model:
        sql = (
            "SELECT EXISTS(SELECT 1 FROM goals WHERE status = 'waiting'"
            " AND wait_reason = 'no model')"
        )
    else:
        sql = "SELECT EXISTS(SELECT 1 FROM steps WHERE status = 'ready' AND kind != 'tool')"
    return bool(store.execute(sql).fetchone()[0])


def timed_work_due(store: Store, *, pause_after_failures: int) -> bool:
    """A schedule to fire, a window reopened, an approval timed out, a retry due, or a schedule
    to pause after its failures."""
    row = store.execute(
        "SELECT EXISTS(SELECT 1 FROM schedules WHERE enabled = 1 AND next_run_at <= :now)"
        " OR EXISTS(SELECT 1 FROM goals WHERE status = 'waiting' AND resume_at <= :now)"
        " OR EXISTS(SELECT 1 FROM approvals WHERE status = 'pending'"
        "           AND expires_at <= :now)"
        " OR EXISTS(SELECT 1 FROM steps WHERE status = 'retry_wait'"
        "           AND next_attempt_at <= :now)"
        " OR (:failures > 0 AND EXISTS(SELECT 1 FROM schedules WHERE enabled = 1"
        "           AND failure_streak >= :failures))",
        {"now": store.clock(), "failures": pause_after_failures},
    ).fetchone()
    return bool(row[0])


def schedule_due(store: Store) -> bool:
    """Whether a schedule should have fired by now."""
    row = store.one("SELECT min(next_run_at) AS t FROM schedules WHERE enabled = 1")
    return bool(row and row["t"] is not None and row["t"] <= store.clock())


def next_timed_event(store: Store) -> float | None:
    """When the next retry, reopening window, approval timeout or schedule is due."""
    row = store.execute(
        "SELECT min(t) FROM ("
        " SELECT min(next_attempt_at) AS t FROM steps WHERE status = 'retry_wait'"
        " UNION ALL SELECT min(resume_at) FROM goals WHERE status = 'waiting'"
        " UNION ALL SELECT min(expires_at) FROM approvals WHERE status = 'pending'"
        " UNION ALL SELECT min(next_run_at) FROM schedules WHERE enabled = 1) AS due"
    ).fetchone()
    return row[0] if row else None


def nothing_to_do(store: Store, *, with_model: bool, placement: Placement = ANYWHERE) -> bool:
    """No step running, in retry wait, or ready and claimable by this executor, in any process
    (all work paused counts as nothing claimable)."""
    paused = bool(store.setting("paused", False))
    where, params = placement.where("g")
    row = store.execute(
        "SELECT EXISTS(SELECT 1 FROM steps WHERE status IN ('running', 'retry_wait'))"
        " OR (? = 0 AND EXISTS(SELECT 1 FROM steps s JOIN goals g ON g.id = s.goal_id"
        "      WHERE s.status = 'ready' AND g.status IN ('queued', 'running', 'planning')"
        "      AND g.archived = 0 AND (s.kind = 'tool' OR ? = 1)" + where + "))",
        (int(paused), with_model, *params),
    ).fetchone()
    return not row[0]


def placed_elsewhere(store: Store, placement: Placement) -> list[Record]:
    """Goals with ready steps that ``placement`` may not take: ``id``, ``runs_on``, ``host``."""
    where, params = placement.where("g")
    return store.all(
        "SELECT g.id, g.runs_on, g.host FROM goals g"
        " WHERE g.status IN ('queued', 'running', 'planning') AND g.archived = 0"
        " AND EXISTS(SELECT 1 FROM steps s WHERE s.goal_id = g.id AND s.status = 'ready')"
        " AND NOT (1 = 1" + where + ") ORDER BY g.id",
        params,
    )
