"""The executor's transactions: claim, propose and finish actions, retries, and crash recovery.

Each function takes an open :class:`Tx` (a ``BEGIN IMMEDIATE`` transaction), so a claim or a finish is
atomic across every process sharing the database.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_tui.core.clock import next_midnight, start_of_day
from agent_tui.core.states import ActionStatus, GoalStatus, StepStatus
from agent_tui.core.store import Record, Row, StaleState, Store, Tx, approvals, liveness
from agent_tui.core.store.lifecycle import (
    promote_dependents,
    release_step,
    resume_goal,
    settle_goal,
    step_off_lease,
)
from agent_tui.core.store.limits import (
    approval_expiry,
    hold_goal,
    tool_limit_message,
    tool_uses_today,
)
from agent_tui.core.store.placement import ANYWHERE, Placement
from agent_tui.core.store.rows import Step

A, G, S = ActionStatus, GoalStatus, StepStatus


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    """Parallelism limits for one claim, counted across all processes."""

    max_parallel: int
    per_goal: int
    lease_seconds: float
    daily_executions: int = 0
    tools: Mapping[str, int] = field(default_factory=dict)
    """Most executions per day of a tool (``[limits.tools]``): a tool step over it is not taken."""


def executions_today(tx: Tx) -> int:
    row = tx.one("SELECT count(*) AS n FROM actions WHERE started_at >= ?", (start_of_day(tx.now),))
    return int(row["n"]) if row else 0


def _hold_for_daily_limit(tx: Tx, limit: int) -> None:
    message = f"the daily limit of {limit} tool executions is reached"
    rows = tx.all(
        "SELECT DISTINCT g.id FROM goals g JOIN steps s ON s.goal_id = g.id"
        " WHERE s.status = 'ready' AND g.status IN ('queued', 'running')"
    )
    for row in rows:
        hold_goal(tx, row["id"], "daily limit", message, next_midnight(tx.now))


def _release_daily_limit(tx: Tx) -> None:
    for row in tx.all(
        "SELECT id, started_at FROM goals WHERE status = 'waiting' AND wait_reason = ?",
        ("daily limit",),
    ):
        resume_goal(tx, row, "the daily limit has reset")


def claim(
    tx: Tx,
    owner: str,
    limits: ClaimLimits,
    capacity: int,
    *,
    llm: bool = True,
    placement: Placement = ANYWHERE,
    busy: Collection[int] = (),
    goals_out: dict[int, Record] | None = None,
) -> list[Step]:
    """Take up to ``capacity`` ready steps by goal priority then age, within every limit.

    Without a model (``llm`` false) only tool steps are taken; only goals ``placement`` allows,
    and a goal taken for the first time is pinned to this host (see :mod:`.placement`). ``busy``:
    steps this process still runs (one taken back from it while it ran is not taken again by
    it until that run has ended: both runs would hold the lease under the same owner).
    ``goals_out``, if given, gets the claimed steps' goal rows as they are after the claim (a
    step's start needs its goal: a round trip saved).

    Without a daily limit, the count of running steps comes with the goals (one query less on
    the way from a wake to a step's start).
    """
    free = capacity
    if limits.daily_executions:
        row = tx.one("SELECT count(*) AS n FROM steps WHERE status = 'running'")
        running = row["n"] if row else 0
        free = min(free, limits.max_parallel - running)
        left = limits.daily_executions - executions_today(tx) - running
        if left <= 0:
            if running == 0:
                _hold_for_daily_limit(tx, limits.daily_executions)
            return []
        _release_daily_limit(tx)
        free = min(free, left)
        if free <= 0:
            return []
    where, where_params = placement.where("g")
    goals = tx.all(
        """
        SELECT g.*,
               (SELECT count(*) FROM steps r WHERE r.goal_id = g.id AND r.status = 'running')
                 AS running,
               (SELECT count(*) FROM steps a WHERE a.status = 'running') AS running_anywhere
        FROM goals g
        WHERE g.status IN ('queued', 'running', 'planning') AND g.archived = 0
          AND EXISTS (SELECT 1 FROM steps s WHERE s.goal_id = g.id AND s.status = 'ready'
                      AND (s.kind = 'tool' OR ? = 1))"""
        + where
        + " ORDER BY g.priority DESC, g.id",
        (llm, *where_params),
    )
    if goals and not limits.daily_executions:
        free = min(free, limits.max_parallel - goals[0]["running_anywhere"])
    claimed: list[Step] = []
    for goal in goals:
        if free <= 0:
            break
        cap = min(limits.per_goal, goal["max_parallel"] or limits.per_goal)
        room = min(free, cap - goal["running"])
        if room <= 0:
            continue
        not_busy = f" AND id NOT IN ({','.join('?' for _ in busy)})" if busy else ""
        steps = tx.all(
            "SELECT * FROM steps WHERE goal_id = ? AND status = 'ready' AND (kind = 'tool' OR ? = 1)"
            + not_busy
            + " ORDER BY position LIMIT ?",
            (goal["id"], llm, *busy, room),
        )
        held = None
        if limits.tools:
            steps, held = _within_tool_limits(tx, steps, limits.tools)
        planning = any(s["kind"] == "plan" for s in steps)
        wanted = G.PLANNING if planning else G.RUNNING
        if steps and goal["status"] != wanted and (goal["status"] == G.QUEUED or planning):
            started_at = goal["started_at"] or tx.now
            tx.set_status("goal", goal["id"], goal["status"], wanted, started_at=started_at)
            if goal["status"] == G.QUEUED:
                tx.event("goal.started", "goal started", goal_id=goal["id"])
            goal.update(status=wanted, started_at=started_at)
        if steps and goal["host"] is None and not placement.shared_workspaces:
            tx.execute("UPDATE goals SET host = ? WHERE id = ?", (placement.host, goal["id"]))
            goal.update(host=placement.host)
        if steps and goals_out is not None:
            goals_out[goal["id"]] = goal
        for step in steps:
            resumed = step["wait_reason"] in ("approved", "resume")
            attempt = step["attempt"] if resumed else step["attempt"] + 1
            tx.set_status(
                "step",
                step["id"],
                S.READY,
                S.RUNNING,
                lease_owner=owner,
                lease_expires=tx.now + limits.lease_seconds,
                attempt=attempt,
                wait_reason=None,
                started_at=step["started_at"] or tx.now,
            )
            step.update(status=S.RUNNING, attempt=attempt, lease_owner=owner)
            claimed.append(Step.of(step))
            if not resumed:
                tx.event(
                    "step.started",
                    f"step '{step['key']}' started (attempt {attempt})",
                    goal_id=goal["id"],
                    step_id=step["id"],
                    attempt=attempt,
                )
        free -= len(steps)
        if held is not None:
            hold_goal(tx, goal["id"], "rate limit", held, next_midnight(tx.now))
    return claimed


def _within_tool_limits(
    tx: Tx, steps: list[Record], limits: Mapping[str, int]
) -> tuple[list[Record], str | None]:
    """The leading ``steps`` whose tool has executions left today, and why the rest must wait.

    Past the first step without, nothing is taken and the goal is held until the window opens,
    so a step is never started only to be given back. Steps claimed earlier in the same
    transaction are already running, so :func:`tool_uses_today` counts them.
    """
    allowed: list[Record] = []
    here: dict[str, int] = {}
    for step in steps:
        approved = step["wait_reason"] == "approved"  # decided by a person: not held back
        tool = step["tool"] if step["kind"] == "tool" and not approved else None
        limit = limits.get(tool or "")
        if tool is None or not limit:
            allowed.append(step)
            continue
        used = tool_uses_today(tx, tool) + here.get(tool, 0)
        if used >= limit:
            return allowed, tool_limit_message(tool, used, limit)
        here[tool] = here.get(tool, 0) + 1
        allowed.append(step)
    return allowed, None


def promote_due_retries(tx: Tx) -> int:
    """Retry-wait steps whose time has come become ready."""
    rows = tx.all(
        "SELECT id, goal_id, key FROM steps WHERE status = 'retry_wait' AND next_attempt_at <= ?",
        (tx.now,),
    )
    for row in rows:
        tx.set_status("step", row["id"], S.RETRY_WAIT, S.READY, next_attempt_at=None)
        tx.event(
            "step.ready",
            f"step '{row['key']}' ready to retry",
            goal_id=row["goal_id"],
            step_id=row["id"],
        )
    return len(rows)


def dependency_results(tx: Tx | Store, step_id: int) -> dict[str, dict[str, Any]]:
    """Output and result of every step ``step_id`` depends on, directly or not, by step key."""
    rows = tx.all(
        """
        WITH RECURSIVE up(id) AS (
            SELECT depends_on FROM step_deps WHERE step_id = ?
            UNION SELECT d.depends_on FROM step_deps d JOIN up ON d.step_id = up.id)
        SELECT s.key, s.result FROM steps s JOIN up ON up.id = s.id
        """,
        (step_id,),
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        result = json.loads(row["result"]) if row["result"] else {}
        out[row["key"]] = {"output": result.get("output", ""), "result": result.get("data", {})}
    return out


def fail_step(tx: Tx, step: Row, error: str, *, old: str = S.RUNNING) -> None:
    """A step fails for good; its goal fails with it."""
    step_off_lease(tx, step, old, S.FAILED, error=error, finished_at=tx.now, wait_reason=None)
    tx.event(
        "step.failed",
        f"step '{step['key']}' failed: {error}",
        goal_id=step["goal_id"],
        step_id=step["id"],
    )
    settle_goal(tx, step["goal_id"])


def propose_action(
    tx: Tx,
    step: Row,
    *,
    tool: str,
    args: dict[str, Any],
    side_effects: bool,
    decision: str,
    reason: str,
    preview: str,
    dry_run: bool,
    tool_call_id: str | None = None,
    decides_step: bool = True,
) -> tuple[int, str]:
    """Record a proposed action and apply the policy; return its id and what happens next.

    ``"run"``: approved, the caller starts it. ``"ask"``: an approval row exists and the step waits
    without holding a slot. ``"deny"``: denied. ``"dry_run"``: recorded only. With
    ``decides_step`` (a tool step) a denial fails the step and a dry run completes it; an agent
    step instead tells its model.
    """
    action_id = tx.insert(
        "actions",
        {
            "goal_id": step["goal_id"],
            "step_id": step["id"],
            "attempt": step["attempt"],
            "tool": tool,
            "args": json.dumps(args),
            "side_effects": int(side_effects),
            "decision": decision,
            "decision_reason": reason,
            "preview": preview,
            "status": A.PROPOSED,
            "created_at": tx.now,
            "tool_call_id": tool_call_id,
        },
    )
    ids = {"goal_id": step["goal_id"], "step_id": step["id"], "action_id": action_id}
    if decision == "deny":
        tx.set_status(
            "action", action_id, A.PROPOSED, A.DENIED, finished_at=tx.now, error=f"denied: {reason}"
        )
        tx.event("action.denied", f"{tool} denied ({reason}): {preview}", **ids)
        if decides_step:
            fail_step(tx, step, f"{tool} denied by policy ({reason})")
        return action_id, "deny"
    if dry_run and side_effects:
        result = {
            "output": f"[dry run] not executed: {preview}",
            "data": {"dry_run": True, "would_run": preview},
        }
        tx.set_status(
            "action",
            action_id,
            A.PROPOSED,
            A.DRY_RUN,
            finished_at=tx.now,
            result=json.dumps(result),
        )
        tx.event("action.dry_run", f"dry run, not executed: {preview}", **ids)
        if decides_step:
            complete_step(tx, step, result)
        return action_id, "dry_run"
    if decision == "ask":
        tx.set_status("action", action_id, A.PROPOSED, A.AWAITING_APPROVAL)
        approval_id = approvals.request(
            tx,
            "action",
            goal_id=step["goal_id"],
            step_id=step["id"],
            action_id=action_id,
            title=f"{tool}: {preview.splitlines()[0][:120] if preview else tool}",
            detail=preview,
            expires_at=_approval_expiry(tx, step["goal_id"]),
        )
        step_off_lease(tx, step, S.RUNNING, S.WAITING_APPROVAL, wait_reason="approval")
        tx.event(
            "approval.requested",
            f"approval {approval_id} needed: {preview}",
            **ids,
            approval_id=approval_id,
            reason=reason,
        )
        settle_goal(tx, step["goal_id"])
        return action_id, "ask"
    tx.set_status("action", action_id, A.PROPOSED, A.APPROVED)
    return action_id, "run"


def _approval_expiry(tx: Tx, goal_id: int) -> float | None:
    goal = tx.one("SELECT approval_timeout, schedule_id FROM goals WHERE id = ?", (goal_id,))
    return approval_expiry(goal, tx.now) if goal else None


def start_action(tx: Tx, action_id: int, owner: str) -> None:
    tx.set_status("action", action_id, A.APPROVED, A.RUNNING, started_at=tx.now, owner=owner)


def complete_step(tx: Tx, step: Row, result: dict[str, Any], *, old: str = S.RUNNING) -> None:
    outcome = {"result": json.dumps(result), "finished_at": tx.now, "error": None}
    step_off_lease(tx, step, old, S.COMPLETED, **outcome)
    tx.event(
        "step.completed",
        f"step '{step['key']}' completed",
        goal_id=step["goal_id"],
        step_id=step["id"],
    )
    promote_dependents(tx, step["id"])
    settle_goal(tx, step["goal_id"])


def backoff_delay(attempt: int, base: float, factor: float, cap: float) -> float:
    """Exponential backoff with full jitter between half and the whole delay."""
    delay = min(cap, base * factor ** max(0, attempt - 1))
    return delay * (0.5 + random.random() / 2)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an action ended, as the executor saw it."""

    ok: bool
    output: str
    data: dict[str, Any]
    error: str | None
    transient: bool = False
    cancelled: bool = False

    @classmethod
    def of(cls, result: Any, cancelled: bool) -> Outcome:
        """A tool's result as recorded; a cancelled action never counts as done or transient."""
        return cls(
            ok=result.ok and not cancelled,
            output=result.output,
            data=result.data,
            error=result.error or ("cancelled" if cancelled else None),
            transient=result.transient and not cancelled,
            cancelled=cancelled,
        )


def record_action(tx: Tx, action_id: int, step: Row, outcome: Outcome, tool: str) -> None:
    """Record how an action ended (its step is left as it is)."""
    result = {"output": outcome.output, "data": outcome.data}
    new = A.SUCCEEDED if outcome.ok else A.FAILED
    current = tx.one("SELECT status FROM actions WHERE id = ?", (action_id,))
    if current is not None and current["status"] == A.UNKNOWN:
        _late_result(tx, action_id, step, outcome)
        return
    tx.set_status(
        "action",
        action_id,
        A.RUNNING,
        new,
        finished_at=tx.now,
        result=json.dumps(result),
        error=outcome.error,
        exit_code=outcome.data.get("exit_code"),
    )
    tx.event(
        f"action.{new}",
        f"{tool} {new}" + (f": {outcome.error}" if outcome.error else ""),
        goal_id=step["goal_id"],
        step_id=step["id"],
        action_id=action_id,
    )


def _how(outcome: Outcome) -> str:
    """How an action ended, in a few words: "succeeded (exit 0)", "failed (exit 2)"."""
    code = outcome.data.get("exit_code")
    if code == 0 or (code is None and outcome.ok):
        return "succeeded" + (" (exit 0)" if code == 0 else "")
    return f"failed (exit {code})" if code is not None else f"failed: {outcome.error}"


def _late_result(tx: Tx, action_id: int, step: Row, outcome: Outcome) -> None:
    """An action ended after its lease was lost and it was made ``unknown``: the result is kept
    as an event and shown in the pending decision, never applied over the human's choice."""
    code = outcome.data.get("exit_code")
    text = f"finished after its lease was lost: {_how(outcome)}"
    tx.event(
        "action.late_result",
        text,
        goal_id=step["goal_id"],
        step_id=step["id"],
        action_id=action_id,
        ok=outcome.ok,
        exit_code=code,
    )
    tx.execute(
        "UPDATE approvals SET detail = coalesce(detail, '') || ? WHERE action_id = ?"
        " AND status = 'pending'",
        (f"\n\nIt {text}.", action_id),
    )


def still_ours(tx: Tx, step: Row) -> Row | None:
    """The step's current row if it is still running under our lease, else ``None``."""
    current = tx.one("SELECT * FROM steps WHERE id = ?", (step["id"],))
    if current is None or current["status"] != S.RUNNING:
        return None
    if step.get("lease_owner") and current["lease_owner"] != step["lease_owner"]:
        return None
    return current


def retry_or_fail(
    tx: Tx,
    step: Row,
    error: str,
    *,
    transient: bool,
    retry_delay: float,
    current: Row,
    fail: Callable[[Tx, Row, str], None] | None = None,
) -> str:
    """A failed attempt: wait and retry when transient and attempts remain, else fail for good."""
    ids = {"goal_id": step["goal_id"], "step_id": step["id"]}
    if transient and current["attempt"] < current["max_attempts"]:
        when = tx.now + retry_delay
        step_off_lease(tx, step, S.RUNNING, S.RETRY_WAIT, next_attempt_at=when, error=error)
        tx.event(
            "step.retry_wait",
            f"step '{step['key']}' will retry in {retry_delay:.1f} s: {error}",
            **ids,
            next_attempt_at=when,
        )
        return S.RETRY_WAIT
    if transient:
        error = f"{error} (gave up after {current['attempt']} attempts)"
        tx.event("step.escalated", f"step '{step['key']}' gave up: {error}", **ids)
    (fail or fail_step)(tx, step, error)
    return S.FAILED


def finish_action(
    tx: Tx,
    action_id: int,
    step: Row,
    outcome: Outcome,
    *,
    retry_delay: float,
) -> str:
    """Record an action's end and move its (tool) step on; return the step's new status."""
    record_action(tx, action_id, step, outcome, step["tool"])
    current = still_ours(tx, step)
    if current is None:
        row = tx.one("SELECT status FROM steps WHERE id = ?", (step["id"],))
        return row["status"] if row else "gone"
    if outcome.ok:
        complete_step(tx, step, {"output": outcome.output, "data": outcome.data})
        return S.COMPLETED
    return retry_or_fail(
        tx,
        step,
        outcome.error or "failed",
        transient=outcome.transient,
        retry_delay=retry_delay,
        current=current,
    )


def renew_leases(tx: Tx, owner: str, lease_seconds: float, step_ids: Collection[int]) -> None:
    """Renew the leases of the steps this process is running, and only those: a step it gave
    up on without recording why (its failure could not be written) expires and is recovered."""
    if step_ids:
        marks = ",".join("?" for _ in step_ids)
        tx.execute(
            f"UPDATE steps SET lease_expires = ? WHERE lease_owner = ? AND status = 'running'"
            f" AND id IN ({marks})",
            (tx.now + lease_seconds, owner, *step_ids),
        )
    tx.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (tx.now, owner))


def ask_about_unknown(tx: Tx, step: Row, action: Row, why: str) -> str:
    """A side-effecting action may or may not have taken effect: the step becomes ``unknown``
    and the approvals queue asks a human to run it again, mark it done or skip it."""
    step_off_lease(tx, step, S.RUNNING, S.UNKNOWN, wait_reason="unknown")
    detail = (
        f"This {action['tool']} action was interrupted ({why}); it may or may not have "
        f"taken effect.\n\n{action['preview']}"
    )
    title = f"interrupted {action['tool']}: run again, mark done or skip?"
    pid = liveness.command_still_running(action.get("process"))
    if pid is not None:
        title = f"interrupted {action['tool']}, still running (pid {pid}): wait for it?"
        detail = f"{still_running_note(pid)}\n\n{detail}"
        record = json.loads(action["process"]) | {"outlived": True}
        tx.execute(
            "UPDATE actions SET process = ? WHERE id = ?", (json.dumps(record), action["id"])
        )
    approval_id = approvals.request(
        tx,
        "unknown",
        goal_id=step["goal_id"],
        step_id=step["id"],
        action_id=action["id"],
        title=title,
        detail=detail,
    )
    note = (
        f"step '{step['key']}' interrupted in a side-effecting {action['tool']} "
        f"action: approval {approval_id} decides"
    )
    tx.event(
        "step.unknown",
        note,
        goal_id=step["goal_id"],
        step_id=step["id"],
        action_id=action["id"],
        approval_id=approval_id,
    )
    return note


def still_running_note(pid: int) -> str:
    """What the question about an interrupted action says while its command still runs."""
    return (
        f"Its command is still running on this host (pid {pid}), without agent-tui watching it. "
        "Wait for it (choice: wait; this question says when it has ended), or stop it "
        f"(kill -TERM -- -{pid}) before running it again: run again is refused while it runs."
    )


OUTLIVED = (
    "SELECT 1 FROM approvals ap JOIN actions a ON a.id = ap.action_id WHERE ap.kind = 'unknown'"
    " AND ap.status = 'pending' AND a.process LIKE '%outlived%' AND a.process NOT LIKE '%ended%'"
    " LIMIT 1"
)
"""Whether any question waits for a command that outlived its executor (a read, before writing)."""


def any_outlived(store: Store) -> bool:
    """Whether any question waits for a command that outlived its executor (a read, before
    writing)."""
    return store.one(OUTLIVED) is not None


def any_lease_expired(store: Store) -> bool:
    """Whether any running step's lease has run out (a read, before writing)."""
    row = store.one(
        "SELECT 1 AS x FROM steps WHERE status = 'running' AND lease_expires < ? LIMIT 1",
        (store.clock(),),
    )
    return row is not None


def lost_steps(store: Store, step_ids: Collection[int], owner: str) -> list[Record]:
    """Those of ``step_ids`` no longer running under ``owner`` (cancelled, paused, taken over)."""
    ids = list(step_ids)
    marks = ",".join("?" for _ in ids)
    return store.all(
        f"SELECT id, goal_id, key, status, lease_owner FROM steps WHERE id IN ({marks})"
        " AND NOT (status = 'running' AND lease_owner = ?)",
        [*ids, owner],
    )


def give_back(tx: Tx, owner: str) -> None:
    """A stopping executor's leases end now, and its steps are recovered at once."""
    tx.execute(
        "UPDATE steps SET lease_expires = 0 WHERE lease_owner = ? AND status = 'running'",
        (owner,),
    )
    recover_expired(tx)


def outlived_commands_ended(tx: Tx) -> list[str]:
    """Pending questions about commands that outlived their executor, whose command has now
    ended: say so in the question and the journal. Called by the reaper of a process on the
    same host; returns a line per command."""
    rows = tx.all(
        "SELECT ap.id AS approval_id, a.id AS action_id, a.process, a.tool, ap.goal_id,"
        " ap.step_id FROM approvals ap JOIN actions a ON a.id = ap.action_id"
        " WHERE ap.kind = 'unknown' AND ap.status = 'pending' AND a.process LIKE '%outlived%'"
    )
    notes: list[str] = []
    for row in rows:
        record = json.loads(row["process"])
        if record.get("ended") or not record.get("outlived"):
            continue
        if record.get("host") != socket.gethostname():
            continue  # only its own host can tell
        if liveness.command_still_running(row["process"]) is not None:
            continue
        record["ended"] = True
        tx.execute(
            "UPDATE actions SET process = ? WHERE id = ?", (json.dumps(record), row["action_id"])
        )
        note = (
            f"its command (pid {record['pid']}) has ended; whether it succeeded is not known "
            "(its exit status went with the process that started it)"
        )
        tx.execute(
            "UPDATE approvals SET title = ?, detail = ? || char(10) || char(10) || detail"
            " WHERE id = ?",
            (
                f"interrupted {row['tool']}, since ended: run again, mark done or skip?",
                f"Update: {note}. Check its effects, then run it again, mark it done or skip it.",
                row["approval_id"],
            ),
        )
        tx.event(
            "action.process_ended",
            note,
            goal_id=row["goal_id"],
            step_id=row["step_id"],
            action_id=row["action_id"],
            approval_id=row["approval_id"],
        )
        notes.append(note)
    return notes


def interrupted_unknown(tx: Tx, step: Row, action_id: int, why: str) -> None:
    """A running side-effecting action was cut off (say its MCP server died): ask, never retry."""
    tx.set_status("action", action_id, A.RUNNING, A.UNKNOWN, error=f"interrupted: {why}")
    action = tx.one("SELECT * FROM actions WHERE id = ?", (action_id,))
    assert action is not None
    ask_about_unknown(tx, step, action, why)
    settle_goal(tx, step["goal_id"])


def recover(tx: Tx, dead: Collection[str], *, only_dead: bool = False) -> list[str]:
    """Recover the steps of ``dead`` processes (gone for certain: at once, not when their leases
    expire) and, unless ``only_dead``, every step whose lease expired; a line per recovery."""
    if dead:
        marks = ",".join("?" for _ in dead)
        tx.execute(
            f"UPDATE steps SET lease_expires = 0 WHERE status = 'running'"
            f" AND lease_owner IN ({marks})",
            list(dead),
        )
        tx.execute(f"DELETE FROM workers WHERE id IN ({marks})", list(dead))
    return recover_expired(tx, owners=list(dead) if only_dead else None)


def journal_fenced(tx: Tx, steps: Sequence[Row], owner: str) -> None:
    """This process lost the leases of ``steps`` (stopped, or too busy to renew them) and another
    took them over: its commands here are stopped, and the journal says so."""
    for row in steps:
        tx.event(
            "action.fenced",
            f"step '{row['key']}' was taken over after this process lost its lease;"
            " its command here is stopped",
            goal_id=row["goal_id"],
            step_id=row["id"],
            owner=owner,
        )


def recover_expired(tx: Tx, owners: Collection[str] | None = None) -> list[str]:
    """Recover steps whose lease expired (their process died); return one line per recovery.

    No action in flight: ready again. A read-only action in flight: marked failed and re-run. A
    side-effecting action in flight: step and action ``unknown``, and the approvals queue asks.
    ``owners``: only the steps of these processes (known to be dead).
    """
    notes: list[str] = []
    sql = "SELECT * FROM steps WHERE status = 'running' AND lease_expires < ?"
    if owners is not None:
        sql += f" AND lease_owner IN ({','.join('?' for _ in owners)})"
    rows = tx.all(sql, (tx.now, *(owners or ())))
    for step in rows:
        ids = {"goal_id": step["goal_id"], "step_id": step["id"]}
        inflight = tx.all(
            "SELECT * FROM actions WHERE step_id = ? AND status = 'running'", (step["id"],)
        )
        risky = [a for a in inflight if a["side_effects"]]
        for action in inflight:
            if action in risky:
                tx.set_status(
                    "action",
                    action["id"],
                    A.RUNNING,
                    A.UNKNOWN,
                    error=f"interrupted: its process ({action['owner']}) stopped or died while it ran",
                )
            else:
                tx.set_status(
                    "action",
                    action["id"],
                    A.RUNNING,
                    A.FAILED,
                    finished_at=tx.now,
                    error="interrupted: its process stopped or died; it will run again",
                )
        if risky:
            note = ask_about_unknown(tx, step, risky[0], "the process running it stopped or died")
        else:
            release_step(tx, step, reason=None)
            note = (
                f"step '{step['key']}' recovered after its process stopped or died; it runs again"
            )
            tx.event("step.recovered", note, **ids)
        settle_goal(tx, step["goal_id"])
        notes.append(note)
    tx.execute("DELETE FROM workers WHERE heartbeat_at < ?", (tx.now - 3600,))
    return notes


def abandon_step(tx: Tx, step: Row, owner: str, error: str, *, ended: Collection[int]) -> None:
    """End a step that an internal error stopped, and every action of it still ``running`` here.

    An action whose tool did not return (not in ``ended``) and that has side effects may or may not
    have taken effect: it becomes ``unknown`` and the approvals queue asks, as after a crash. Any
    other action fails with ``error``. The step fails with ``error``, unless a human must decide.
    """
    risky: Row | None = None
    for action in tx.all(
        "SELECT * FROM actions WHERE step_id = ? AND status = 'running' AND owner = ?",
        (step["id"], owner),
    ):
        ids = {"goal_id": step["goal_id"], "step_id": step["id"], "action_id": action["id"]}
        if action["side_effects"] and action["id"] not in ended:
            tx.set_status("action", action["id"], A.RUNNING, A.UNKNOWN, error=error)
            tx.event("action.unknown", f"{action['tool']} interrupted: {error}", **ids)
            risky = risky or action
        else:
            tx.set_status(
                "action", action["id"], A.RUNNING, A.FAILED, finished_at=tx.now, error=error
            )
            tx.event("action.failed", f"{action['tool']} failed: {error}", **ids)
    if still_ours(tx, step) is None:
        settle_goal(tx, step["goal_id"])
    elif risky is not None:
        ask_about_unknown(tx, step, risky, error)
        settle_goal(tx, step["goal_id"])
    else:
        fail_step(tx, step, error)


def approved_while_running(tx: Tx, step_id: int, owner: str) -> Record | None:
    """The step's latest action approved in the queue and not started yet (``None``: there is
    none), checking in the same query that the step is still running under ``owner``."""
    row = tx.one(
        "SELECT a.*, s.id AS running_step FROM steps s"
        " LEFT JOIN actions a ON a.step_id = s.id AND a.status = 'approved'"
        " WHERE s.id = ? AND s.status = 'running' AND s.lease_owner = ?"
        " ORDER BY a.id DESC LIMIT 1",
        (step_id, owner),
    )
    if row is None:
        raise StaleState(f"step {step_id} is no longer ours")
    return row if row["id"] is not None else None


def ensure_still_running(tx: Tx, step_id: int, owner: str) -> None:
    if (
        tx.one(
            "SELECT 1 FROM steps WHERE id = ? AND status = 'running' AND lease_owner = ?",
            (step_id, owner),
        )
        is None
    ):
        raise StaleState(f"step {step_id} is no longer ours")


def apply_spooled(
    tx: Tx, action_id: int, owner: str, outcome: Outcome, *, retry_delay: float
) -> str | None:
    """Record a result its process spooled but could not record (see :mod:`spool`).

    The action gets its real result, and its step moves on as the process would have moved it: a
    tool step completes, retries or fails; an agent step runs again and answers the model's call
    from the recorded action. An action already made ``unknown`` (its process was presumed dead)
    is decided by the result: its pending question is answered, never left to a person to guess.
    Returns a line saying what happened, or ``None`` if the result was recorded already.
    """
    action = tx.one("SELECT * FROM actions WHERE id = ?", (action_id,))
    if action is None or action["owner"] != owner or action["status"] not in (A.RUNNING, A.UNKNOWN):
        return None
    step = tx.one("SELECT * FROM steps WHERE id = ?", (action["step_id"],))
    assert step is not None
    new = A.SUCCEEDED if outcome.ok else A.FAILED
    how = _how(outcome)
    note = f"{action['tool']} {how}; recorded from the spool (its process could not record it)"
    ids = {"goal_id": step["goal_id"], "step_id": step["id"], "action_id": action_id}
    tx.set_status(
        "action",
        action_id,
        action["status"],
        new,
        finished_at=tx.now,
        result=json.dumps({"output": outcome.output, "data": outcome.data}),
        error=outcome.error,
        exit_code=outcome.data.get("exit_code"),
    )
    tx.event(f"action.{new}", note, **ids, recovered=True)
    tx.execute(
        "UPDATE approvals SET status = 'approved', decided_at = ?, decided_by = 'agent-tui',"
        " reason = ?, choice = 'recovered' WHERE action_id = ? AND kind = 'unknown'"
        " AND status = 'pending'",
        (tx.now, f"answered by its recovered result: {how}", action_id),
    )
    result = {"output": outcome.output, "data": outcome.data}
    mine = step["status"] == S.RUNNING and step["lease_owner"] == owner
    if step["kind"] != "tool":
        if step["status"] == S.UNKNOWN:  # it runs again and reads the call's recorded result
            tx.set_status(
                "step", step["id"], S.UNKNOWN, S.READY, wait_reason=None, lease_owner=None
            )
        # a running agent step is recovered with its process: no action of it is running now
    elif mine and outcome.ok:
        complete_step(tx, step, result)
    elif mine:
        retry_or_fail(
            tx,
            step,
            outcome.error or "failed",
            transient=outcome.transient,
            retry_delay=retry_delay,
            current=step,
        )
    elif step["status"] == S.UNKNOWN and outcome.ok:
        complete_step(tx, step, result, old=S.UNKNOWN)
    elif step["status"] == S.UNKNOWN:
        fail_step(tx, step, outcome.error or how, old=S.UNKNOWN)
    settle_goal(tx, step["goal_id"])
    return f"step '{step['key']}': {note}"
