"""What the executor asks the database before it acts: is there work, is timed work due, when is
the next timed event, is everything idle. Reads only, each one cheap (an EXISTS or a min over an
index), so the executor can ask before it opens a write transaction.
"""

from __future__ import annotations

import json

from agent_tui.core.store import Record, Store, liveness
from agent_tui.core.store.placement import ANYWHERE, Placement


def _model_waits(with_model: bool) -> str:
    """An ``EXISTS`` that holds when goals are to be put in waiting for a model (none
    configured, and a model step is ready), or taken out of it (a model is there now)."""
    if with_model:
        return "EXISTS(SELECT 1 FROM goals WHERE status = 'waiting' AND wait_reason = 'no model')"
    return "EXISTS(SELECT 1 FROM steps WHERE status = 'ready' AND kind != 'tool')"


def before_claim(
    store: Store, *, with_model: bool, placement: Placement = ANYWHERE
) -> tuple[bool, bool, bool]:
    """``(paused, work_waiting, model_waits_due)`` in one query: what a dispatch asks before it
    opens a write transaction (one round trip to a database server, not three)."""
    where, params = placement.where("g")
    row = store.execute(
        "SELECT (SELECT value FROM settings WHERE key = 'paused'),"
        " EXISTS(SELECT 1 FROM steps s JOIN goals g ON g.id = s.goal_id"
        " WHERE s.status = 'ready' AND (s.kind = 'tool' OR ? = 1)"
        + where
        + "), "
        + _model_waits(with_model),
        (with_model, *params),
    ).fetchone()
    paused = row[0] is not None and bool(json.loads(row[0]))
    return paused, bool(row[1]), bool(row[2])


def model_waits_due(store: Store, *, with_model: bool) -> bool:
    """Goals to put in waiting for a model (none configured, and a model step is ready), or to
    take out of it (a model is there now)."""
    return bool(store.execute("SELECT " + _model_waits(with_model)).fetchone()[0])


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


def placement_waits(store: Store, goal_id: int | None = None) -> dict[int, str]:
    """Goals with ready steps that no live worker may take (their label is offered by none, or
    their workspace's host has none), each with what it waits for, said for a person.

    Only goals that name a label or are pinned to a host are looked at, so the answer costs a
    query over the active goals and one over the workers, whatever the history holds.
    """
    rows = store.all(
        "SELECT g.id, g.runs_on, g.host FROM goals g"
        " WHERE g.status IN ('queued', 'running', 'planning') AND g.archived = 0"
        " AND (g.runs_on IS NOT NULL OR g.host IS NOT NULL)"
        + (" AND g.id = ?" if goal_id is not None else "")
        + " AND EXISTS(SELECT 1 FROM steps s WHERE s.goal_id = g.id AND s.status = 'ready')",
        (goal_id,) if goal_id is not None else (),
    )
    if not rows:
        return {}
    workers = [worker_placement(w) for w in liveness.live_workers(store)]
    return {
        row["id"]: placement_wait(row["runs_on"], row["host"])
        for row in rows
        if not any(w.admits(row["runs_on"], row["host"]) for w in workers)
    }


def worker_placement(row: Record) -> Placement:
    """Where a ``workers`` row's executor may run goals (its labels hold ``host:<name>``)."""
    names = [str(n) for n in json.loads(row["labels"] or "[]")]
    host = next((n[5:] for n in names if n.startswith("host:")), row["host"])
    labels = tuple(n for n in names if not n.startswith("host:"))
    return Placement(host=host, labels=labels, shared_workspaces=bool(row["shared_workspaces"]))


def placement_wait(runs_on: str | None, host: str | None) -> str:
    """What a goal that no live worker may take waits for, and how to give it one."""
    if runs_on and host:
        return (
            f"waits for a worker labelled '{runs_on}' on host '{host}', where its workspace is"
            f" (`agent-tui worker --labels {runs_on}` there)"
        )
    if runs_on:
        return (
            f"waits for a worker labelled '{runs_on}' (`agent-tui worker --labels {runs_on}`"
            " on a host that has it)"
        )
    return (
        f"waits for a worker on host '{host}', where its workspace is (if every host sees the"
        " same workspaces, set [executor] shared_workspaces = true)"
    )
