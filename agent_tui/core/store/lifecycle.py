"""Goal-level bookkeeping shared by the executor and user commands: settle a goal from its steps,
and the one way a goal starts and stops waiting for a reason (:func:`wait_goal`,
:func:`resume_goal`).
"""

from __future__ import annotations

from typing import Any

from agent_tui.core.clock import local_time
from agent_tui.core.states import GOAL_TERMINAL, ActionStatus, GoalStatus, StepStatus
from agent_tui.core.store import Row, Tx, goals

A, G, S = ActionStatus, GoalStatus, StepStatus

# Waiting reasons that only a decision clears (settle may lift them when work becomes possible).
SETTLED_REASONS = {None, "approval"}


WAITABLE = (G.QUEUED, G.RUNNING, G.PLANNING, G.WAITING)
"""Goals that may be put to wait (a paused or finished goal is not held by anything)."""


def wait_goal(
    tx: Tx,
    goal_id: int,
    reason: str,
    message: str,
    *,
    resume_at: float | None = None,
    until: str = "resumes at",
    note: str | None = None,
    step_id: int | None = None,
    **data: Any,
) -> bool:
    """The goal waits for ``reason`` (a limit's window, a budget decision, the model): its status,
    reason and message, and one ``goal.waiting`` event with ``note`` (default: the message).

    With ``resume_at`` the message says when it goes on. A goal already waiting for the same
    reason until the same time is left alone (nothing new to journal); ``False`` then, and for a
    goal that cannot wait (paused, finished).
    """
    goal = tx.one("SELECT status, wait_reason, resume_at FROM goals WHERE id = ?", (goal_id,))
    if goal is None or goal["status"] not in WAITABLE:
        return False
    text = message if resume_at is None else f"{message}; {until} {local_time(resume_at)}"
    if goal["status"] == G.WAITING:
        if goal["wait_reason"] == reason and goal["resume_at"] == resume_at:
            return False
        tx.execute(
            "UPDATE goals SET wait_reason = ?, status_message = ?, resume_at = ? WHERE id = ?",
            (reason, text, resume_at, goal_id),
        )
    else:
        tx.set_status(
            "goal",
            goal_id,
            goal["status"],
            G.WAITING,
            wait_reason=reason,
            status_message=text,
            resume_at=resume_at,
        )
    data["reason"] = reason
    if resume_at is not None:
        data["resume_at"] = resume_at
    tx.event("goal.waiting", note or text, goal_id=goal_id, step_id=step_id, **data)
    return True


def resume_goal(tx: Tx, goal: Row, why: str) -> None:
    """A waiting goal goes on (running if it had started, else queued), with a ``goal.resumed``."""
    tx.set_status(
        "goal",
        goal["id"],
        G.WAITING,
        G.RUNNING if goal["started_at"] else G.QUEUED,
        wait_reason=None,
        status_message=None,
        resume_at=None,
    )
    tx.event("goal.resumed", why, goal_id=goal["id"])


UNRUN_ENDS = {
    ActionStatus.AWAITING_APPROVAL: ActionStatus.REJECTED,
    ActionStatus.APPROVED: ActionStatus.FAILED,
    ActionStatus.UNKNOWN: ActionStatus.FAILED,
}
"""How an action that waited (for a person, or for its step to go on) ends without running
(again): one awaiting approval is rejected; an approved one not started, or one whose outcome was
unknown, failed."""


def end_unrun_action(tx: Tx, action_id: int, old: str, error: str) -> None:
    """End an action that will not run (again), saying why."""
    new = UNRUN_ENDS[ActionStatus(old)]
    tx.set_status("action", action_id, old, new, finished_at=tx.now, error=error)


def step_off_lease(tx: Tx, step: Row, old: str, new: str, **fields: Any) -> None:
    """Move a step out of ``old`` (usually running) to ``new``; nobody holds its lease after."""
    tx.set_status("step", step["id"], old, new, lease_owner=None, lease_expires=None, **fields)


def release_step(tx: Tx, step: Row, *, reason: str | None = "resume", **fields: Any) -> None:
    """Give a running step back (ready, same attempt) without finishing it; ``fields`` are set
    with it (``started_at=None``: it never really started)."""
    step_off_lease(tx, step, S.RUNNING, S.READY, wait_reason=reason, **fields)


def step_counts(tx: Tx, goal_id: int, plan_version: int) -> dict[str, int]:
    rows = tx.all(
        "SELECT status, count(*) AS n FROM steps WHERE goal_id = ? AND plan_version = ?"
        " GROUP BY status",
        (goal_id, plan_version),
    )
    return {r["status"]: r["n"] for r in rows}


def settle_goal(tx: Tx, goal_id: int) -> None:
    """Bring a goal's status in line with its steps: completed, failed, waiting or running."""
    goal = goals.goal(tx, goal_id)
    if goal is not None and goal["status"] in (G.FAILED, G.CANCELLED):
        # A step that was already running when the goal stopped may still ask: withdraw it too.
        withdraw_approvals(tx, goal_id, f"goal {goal['status']}")
    if goal is None or goal["status"] in GOAL_TERMINAL or goal["status"] == G.PAUSED:
        return
    if goal["plan_version"] == 0:
        return
    counts = step_counts(tx, goal_id, goal["plan_version"])
    total = sum(counts.values())
    status = goal["status"]
    if counts.get(S.FAILED):
        failed = tx.one(
            "SELECT key, error FROM steps WHERE goal_id = ? AND plan_version = ? AND status = ?"
            " ORDER BY finished_at DESC LIMIT 1",
            (goal_id, goal["plan_version"], S.FAILED),
        )
        assert failed is not None
        message = f"step '{failed['key']}' failed: {failed['error']}"
        _goal_to(tx, goal, G.FAILED, message=message, finished_at=tx.now)
        tx.event("goal.failed", message, goal_id=goal_id)
        if tx.one("SELECT 1 FROM steps WHERE goal_id = ? AND kind != 'tool' LIMIT 1", (goal_id,)):
            from agent_tui.core.store import report

            report.write(tx, goal_id)  # what was done before it stopped, and why it stopped
        return
    done = counts.get(S.COMPLETED, 0) + counts.get(S.SKIPPED, 0)
    if total and done == total:
        if tx.one("SELECT 1 FROM steps WHERE goal_id = ? AND kind != 'tool' LIMIT 1", (goal_id,)):
            from agent_tui.core.store import report

            report.write(tx, goal_id)
        skipped = counts.get(S.SKIPPED, 0)
        note = f"completed with {skipped} skipped step(s)" if skipped else None
        _goal_to(tx, goal, G.COMPLETED, message=note, finished_at=tx.now)
        tx.event(
            "goal.completed",
            f"goal '{goal['title']}' {note or 'completed'}",
            goal_id=goal_id,
            skipped=skipped,
        )
        return
    active = sum(counts.get(s, 0) for s in (S.READY, S.RUNNING, S.RETRY_WAIT))
    blocked = counts.get(S.WAITING_APPROVAL, 0) + counts.get(S.UNKNOWN, 0)
    if goal["wait_reason"] not in SETTLED_REASONS:
        return
    if active:
        if status == G.WAITING:
            _goal_to(tx, goal, G.RUNNING, message=None)
            tx.event("goal.resumed", "work can go on", goal_id=goal_id)
    elif blocked and status in (G.RUNNING, G.QUEUED, G.PLANNING):
        message = f"{blocked} step(s) wait for a decision in the approvals queue"
        _goal_to(tx, goal, G.WAITING, reason="approval", message=message)
        tx.event("goal.waiting", message, goal_id=goal_id, reason="approval")


def _goal_to(
    tx: Tx,
    goal: Row,
    new: str,
    *,
    reason: str | None = None,
    message: str | None = None,
    finished_at: float | None = None,
) -> None:
    fields: dict[str, object] = {"wait_reason": reason, "status_message": message}
    if finished_at is not None:
        fields["finished_at"] = finished_at
    tx.set_status("goal", goal["id"], goal["status"], new, **fields)
    if new in (G.FAILED, G.CANCELLED):
        withdraw_approvals(tx, goal["id"], f"goal {new}")
    if new in (G.COMPLETED, G.FAILED) and goal.get("schedule_id"):
        record_schedule_outcome(tx, goal["schedule_id"], goal["id"], new)


def record_schedule_outcome(tx: Tx, schedule_id: int, goal_id: int, status: str) -> None:
    """A scheduled run ended: remember its status and count consecutive failures."""
    streak = "0" if status == G.COMPLETED else "failure_streak + 1"
    tx.execute(
        f"UPDATE schedules SET last_status = ?, failure_streak = {streak}"
        " WHERE id = ? AND last_goal_id = ?",
        (status, schedule_id, goal_id),
    )


def set_goal_status(
    tx: Tx, goal_id: int, new: str, *, reason: str | None = None, message: str | None = None
) -> Row:
    """Move a goal to ``new`` (checked) and return the row as it was."""
    goal = goals.goal(tx, goal_id)
    if goal is None:
        raise LookupError(f"no goal {goal_id}")
    old = dict(goal)
    fields: dict[str, object] = {"wait_reason": reason, "status_message": message}
    if new in GOAL_TERMINAL:
        fields["finished_at"] = tx.now
    tx.set_status("goal", goal_id, goal["status"], new, **fields)
    if new in (G.FAILED, G.CANCELLED):
        withdraw_approvals(tx, goal_id, f"goal {new}")
    return old


def withdraw_approvals(tx: Tx, goal_id: int, why: str) -> int:
    """The goal stopped: its pending approvals are withdrawn, recorded, and their steps cancelled.

    Approving one later would only make a step ready under a goal that no longer runs. A withdrawn
    step is ``cancelled``, so ``retry`` makes it run (and ask) again. Returns how many.
    """
    pending = tx.all(
        "SELECT * FROM approvals WHERE goal_id = ? AND status = 'pending' ORDER BY id", (goal_id,)
    )
    for approval in pending:
        tx.execute(
            "UPDATE approvals SET status = 'withdrawn', decided_at = ?, decided_by = 'agent-tui',"
            " reason = ? WHERE id = ?",
            (tx.now, why, approval["id"]),
        )
        action = (
            tx.one("SELECT id, status FROM actions WHERE id = ?", (approval["action_id"],))
            if approval["action_id"] is not None
            else None
        )
        if action is not None and action["status"] == A.AWAITING_APPROVAL:
            end_unrun_action(tx, action["id"], A.AWAITING_APPROVAL, f"approval withdrawn: {why}")
        elif action is not None and action["status"] == A.UNKNOWN:
            end_unrun_action(tx, action["id"], A.UNKNOWN, f"interrupted; approval withdrawn: {why}")
        step = (
            tx.one("SELECT id, status FROM steps WHERE id = ?", (approval["step_id"],))
            if approval["step_id"] is not None
            else None
        )
        if step is not None and step["status"] in (S.WAITING_APPROVAL, S.UNKNOWN):
            cancel_step(
                tx,
                step,
                f"approval withdrawn: {why}",
                lease_owner=None,
                lease_expires=None,
                wait_reason=None,
            )
        tx.event(
            "approval.withdrawn",
            f"approval {approval['id']} withdrawn ({why}): {approval['title']}",
            goal_id=goal_id,
            step_id=approval["step_id"],
            action_id=approval["action_id"],
        )
    return len(pending)


def cancel_step(tx: Tx, step: Row, error: str, **fields: object) -> None:
    """End an open step as ``cancelled`` with ``error`` (and any other ``fields``)."""
    tx.set_status(
        "step", step["id"], step["status"], S.CANCELLED, finished_at=tx.now, error=error, **fields
    )


def promote_dependents(tx: Tx, step_id: int) -> int:
    """Make ready every pending step whose dependencies are now all done; return how many."""
    cur = tx.execute(
        """
        UPDATE steps SET status = 'ready', updated_at = ?
        WHERE status = 'pending'
          AND id IN (SELECT step_id FROM step_deps WHERE depends_on = ?)
          AND NOT EXISTS (
            SELECT 1 FROM step_deps d JOIN steps s2 ON s2.id = d.depends_on
            WHERE d.step_id = steps.id AND s2.status NOT IN ('completed', 'skipped'))
        """,
        (tx.now, step_id),
    )
    return int(cur.rowcount)


def sync_model_waits(tx: Tx, model: str | None) -> None:
    """Without a model, goals whose only runnable steps need one wait (reason ``no model``);
    with one, such goals go on."""
    from agent_tui.core.llm import HOW_TO_CONFIGURE

    if model is not None:
        for row in tx.all(
            "SELECT id, started_at FROM goals WHERE status = 'waiting' AND wait_reason = 'no model'"
        ):
            resume_goal(tx, row, f"model {model} is available")
        return
    rows = tx.all(
        "SELECT g.id, g.status FROM goals g WHERE g.status IN ('queued', 'running', 'planning')"
        " AND EXISTS(SELECT 1 FROM steps s WHERE s.goal_id = g.id AND s.status = 'ready'"
        "            AND s.kind != 'tool')"
        " AND NOT EXISTS(SELECT 1 FROM steps s WHERE s.goal_id = g.id AND (s.status IN"
        "            ('running', 'retry_wait') OR (s.status = 'ready' AND s.kind = 'tool')))"
    )
    message = f"no model is configured: {HOW_TO_CONFIGURE}; recipes run without one"
    for row in rows:
        wait_goal(tx, row["id"], "no model", message)
