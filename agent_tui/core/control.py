"""What a user can do to goals, steps and approvals; any process may call these.

Every function is one transaction and raises :class:`ControlError` with a readable message when the
request does not fit the current state (for example approving an approval already decided).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_tui.core import bindings, budget, transcript
from agent_tui.core.commands_run import files_run
from agent_tui.core.rules import Proposal, RuleError, insert_rule, propose_rule
from agent_tui.core.states import GOAL_TERMINAL, STEP_DONE, ActionStatus, GoalStatus, StepStatus
from agent_tui.core.store import Row, Store, Tx, approvals, liveness, steps
from agent_tui.core.store import actions as store_actions
from agent_tui.core.store import goals as store_goals
from agent_tui.core.store import limits as store_limits
from agent_tui.core.store.lifecycle import (
    cancel_step,
    end_unrun_action,
    promote_dependents,
    set_goal_status,
    settle_goal,
)
from agent_tui.core.store.runs import fail_step

A, G, S = ActionStatus, GoalStatus, StepStatus
UNKNOWN_CHOICES = ("wait", "run_again", "mark_done", "skip")
"""What an interrupted action's question offers; ``wait`` only while its command still runs."""
RESUMABLE_WAITS = ("model", "no model", "model unreachable")
"""Waiting reasons a plain resume clears (after the user fixed the cause)."""


class ControlError(Exception):
    """A request that does not fit the current state."""


class NoSuchId(ControlError):
    """A goal, approval, step or rule id that does not exist (the CLI exits 4 for it)."""


def _goal(tx: Tx, goal_id: int) -> Row:
    goal = store_goals.goal(tx, goal_id)
    if goal is None:
        raise NoSuchId(f"no goal {goal_id}")
    return goal


def pause_goal(store: Store, goal_id: int) -> int:
    """Pause a goal: no new step starts. Returns how many of its steps are still running
    (they finish; cancelling the goal kills them)."""
    with store.write() as tx:
        goal = _goal(tx, goal_id)
        if goal["status"] == G.PAUSED:
            raise ControlError(f"goal {goal_id} is already paused")
        if goal["status"] in GOAL_TERMINAL:
            raise ControlError(f"goal {goal_id} is {goal['status']}; there is nothing to pause")
        set_goal_status(tx, goal_id, G.PAUSED, message="paused by the user")
        tx.event(
            "goal.paused", "goal paused; running steps finish, no new step starts", goal_id=goal_id
        )
        return steps.running_count(tx, goal_id)


def resume_goal(store: Store, goal_id: int) -> None:
    with store.write() as tx:
        goal = _goal(tx, goal_id)
        resumable = goal["status"] == G.WAITING and goal["wait_reason"] in RESUMABLE_WAITS
        if goal["status"] != G.PAUSED and not resumable:
            why = f" ({goal['wait_reason']})" if goal["wait_reason"] else ""
            raise ControlError(f"goal {goal_id} is {goal['status']}{why}, not paused")
        new = G.RUNNING if goal["started_at"] else G.QUEUED
        set_goal_status(tx, goal_id, new)
        tx.event("goal.resumed", "goal resumed", goal_id=goal_id)
        settle_goal(tx, goal_id)


def set_global_pause(store: Store, paused: bool) -> None:
    with store.write() as tx:
        store.set_setting("paused", paused, tx)
        tx.event(
            "executor.paused" if paused else "executor.resumed",
            "all work paused: no step starts until resumed" if paused else "work resumed",
        )


def set_global_dry_run(store: Store, dry_run: bool) -> None:
    with store.write() as tx:
        store.set_setting("dry_run", dry_run, tx)
        tx.event("settings.dry_run", f"dry run {'on' if dry_run else 'off'} for all goals")


def cancel_goal(store: Store, goal_id: int) -> int:
    """Cancel a goal: its open steps and approvals are cancelled, running actions are killed."""
    with store.write() as tx:
        goal = _goal(tx, goal_id)
        if goal["status"] in GOAL_TERMINAL:
            raise ControlError(f"goal {goal_id} is already {goal['status']}")
        open_steps = steps.in_status(
            tx,
            goal_id,
            (S.PENDING, S.READY, S.RUNNING, S.WAITING_APPROVAL, S.RETRY_WAIT, S.UNKNOWN),
        )
        for step in open_steps:
            cancel_step(tx, step, "cancelled by the user", lease_owner=None, lease_expires=None)
        for action in store_actions.in_status(tx, goal_id, (A.AWAITING_APPROVAL, A.APPROVED)):
            end_unrun_action(tx, action["id"], action["status"], "cancelled by the user")
        set_goal_status(tx, goal_id, G.CANCELLED, message="cancelled by the user")
        tx.event(
            "goal.cancelled", f"goal cancelled ({len(open_steps)} open steps)", goal_id=goal_id
        )
        return len(open_steps)


def _reset_step(tx: Tx, step: Row) -> None:
    deps = steps.dependency_statuses(tx, step["id"])
    new = S.READY if all(status in STEP_DONE for status in deps) else S.PENDING
    # The attempt counts on (the next run is attempt n + 1, as the timeline shows), and the step
    # gets its full number of attempts again.
    tx.set_status(
        "step",
        step["id"],
        step["status"],
        new,
        max_attempts=step["attempt"] + step["max_attempts"],
        error=None,
        finished_at=None,
        next_attempt_at=None,
        wait_reason=None,
    )


def retry(store: Store, goal_id: int, step_key: str | None = None) -> int:
    """Make failed or cancelled steps runnable again; return how many."""
    with store.write() as tx:
        goal = _goal(tx, goal_id)
        if goal["status"] == G.COMPLETED:
            raise ControlError(f"goal {goal_id} is completed; add it again to run it again")
        failed = steps.in_status(
            tx,
            goal_id,
            (S.FAILED, S.CANCELLED),
            plan_version=goal["plan_version"],
            key=step_key,
        )
        if not failed:
            what = f"step '{step_key}'" if step_key else "no step"
            raise ControlError(f"goal {goal_id}: {what} is not failed or cancelled")
        if step_key is not None:
            others = steps.in_status(tx, goal_id, (S.FAILED,), plan_version=goal["plan_version"])
            others = [o for o in others if o["key"] != step_key]
            if others:
                # The goal would fail again at once for them, and the step would never run.
                keys = ", ".join(f"'{o['key']}'" for o in others)
                raise ControlError(
                    f"goal {goal_id}: step {keys} failed too, so the goal would stay failed; "
                    f"retry the goal (agent-tui retry {goal_id}) to run every failed step again"
                )
        for step in failed:
            _reset_step(tx, step)
            if step["kind"] != "tool":
                transcript.add_retry_note(tx, step["id"], step["error"])
        if goal["status"] in (G.FAILED, G.CANCELLED):
            set_goal_status(tx, goal_id, G.RUNNING if goal["started_at"] else G.QUEUED)
        tx.event("goal.retried", f"{len(failed)} step(s) will run again", goal_id=goal_id)
        settle_goal(tx, goal_id)
        return len(failed)


def _pending_approval(tx: Tx, approval_id: int) -> Row:
    row = approvals.approval(tx, approval_id)
    if row is None:
        raise NoSuchId(f"no approval {approval_id}")
    if row["status"] != "pending":
        raise ControlError(f"approval {approval_id} is already {row['status']}")
    return row


def _decide(
    tx: Tx, approval: Row, status: str, by: str, reason: str | None, choice: str | None
) -> None:
    approvals.decide(tx, approval["id"], status, by, reason, choice)


def always_allow_proposal(store: Store, approval_id: int) -> Proposal:
    """The rule that "always allow" on this approval would save, and what else it would allow."""
    approval = approvals.approval(store, approval_id)
    if approval is None:
        raise NoSuchId(f"no approval {approval_id}")
    if approval["kind"] != "action" or approval["action_id"] is None:
        raise ControlError(f"approval {approval_id} is not an action; there is no rule to save")
    step = steps.step(store, approval["step_id"])
    if step is not None and step["approval"] == "ask":
        raise ControlError(
            f'approval {approval_id} asked because its recipe step says approval = "ask"; '
            "no rule changes that, so none is offered: approve it (a, or agent-tui approve "
            f'{approval_id}), or remove approval = "ask" from the recipe'
        )
    action = store_actions.with_workspace(store, approval["action_id"])
    assert action is not None
    args = json.loads(action["args"])
    try:
        proposal = propose_rule(action["tool"], args)
    except RuleError as exc:
        raise ControlError(f"approval {approval_id}: no rule can be proposed ({exc})") from None
    return bind_proposal(proposal, action["tool"], args, Path(action["workspace"]))


def bind_proposal(proposal: Proposal, tool: str, args: dict[str, Any], workspace: Path) -> Proposal:
    """Bind a shell proposal to the files its command runs, as they are in ``workspace`` now."""
    command = args.get("command")
    if tool != "shell" or not isinstance(command, str):
        return proposal
    files = files_run(command)
    if not files:
        return proposal
    bound = bindings.snapshot(workspace, files)
    present = [rel for rel, state in bound.items() if state["sha256"] is not None]
    what = ", ".join(present) if present else ", ".join(files)
    note = (
        f"; only while {what} stay{'s' if len(present) == 1 else ''} as now (a change asks again)"
    )
    return Proposal(proposal.spec, proposal.description + note, bound)


def approve(
    store: Store,
    approval_id: int,
    *,
    choice: str | None = None,
    by: str = "user",
    always: Proposal | None = None,
) -> str:
    """Approve a pending item; for an interrupted action, ``choice`` is run_again|mark_done|skip.

    With ``always`` (a proposal the user has seen), its rule is saved in the same transaction.
    """
    with store.write() as tx:
        approval = _pending_approval(tx, approval_id)
        if always is not None:
            rule = insert_rule(tx, always.spec, source=f"always allow ({by})", bound=always.bound)
            tx.event(
                "rule.added",
                f"{rule.summary} saved from approval {approval_id}",
                goal_id=approval["goal_id"],
            )
        decide = APPROVERS.get(approval["kind"])
        if decide is None:
            raise ControlError(
                f"approval {approval_id} is of kind {approval['kind']}, "
                "which this version cannot decide"
            )
        return decide(tx, approval, choice, by)


def _ids(approval: Row) -> dict[str, int | None]:
    return {
        "goal_id": approval["goal_id"],
        "step_id": approval["step_id"],
        "action_id": approval["action_id"],
    }


def _approve_action(tx: Tx, approval: Row, choice: str | None, by: str) -> str:
    """The action runs: approved, its step ready again."""
    _decide(tx, approval, "approved", by, None, None)
    tx.set_status("action", approval["action_id"], A.AWAITING_APPROVAL, A.APPROVED)
    tx.set_status("step", approval["step_id"], S.WAITING_APPROVAL, S.READY, wait_reason="approved")
    tx.event("approval.approved", f"approval {approval['id']} approved by {by}", **_ids(approval))
    settle_goal(tx, approval["goal_id"])
    return "approved"


def _approve_unknown(tx: Tx, approval: Row, choice: str | None, by: str) -> str:
    """An interrupted action: run again, mark done, skip, or wait for a command that still
    runs (which decides nothing: the question stays open)."""
    approval_id = approval["id"]
    choice = choice or "run_again"
    if choice not in UNKNOWN_CHOICES:
        raise ControlError(f"choice must be one of {', '.join(UNKNOWN_CHOICES)}")
    action = store_actions.action(tx, approval["action_id"])
    pid = liveness.command_still_running(action["process"] if action else None)
    if choice == "wait":
        if pid is None:
            raise ControlError(
                f"approval {approval_id}: its command is not running (any more): "
                "run again, mark done or skip"
            )
        tx.event(
            "approval.waiting",
            f"approval {approval_id}: waiting for its command (pid {pid}) to end"
            f" (by {by}); the question stays open and says when it has",
            **_ids(approval),
        )
        return "wait"
    if choice == "run_again" and pid is not None:
        raise ControlError(
            f"approval {approval_id}: its command is still running (pid {pid}); "
            f"running it again would run it twice at once. Wait for it, or stop it "
            f"first: kill -TERM -- -{pid}"
        )
    _decide(tx, approval, "approved", by, None, choice)
    _resolve_unknown(tx, approval, choice)
    tx.event(
        "approval.approved",
        f"approval {approval_id}: {choice} (by {by})",
        **_ids(approval),
        choice=choice,
    )
    settle_goal(tx, approval["goal_id"])
    return choice


def _approve_plan(tx: Tx, approval: Row, choice: str | None, by: str) -> str:
    """The reviewed plan goes ahead."""
    _decide(tx, approval, "approved", by, None, None)
    tx.set_status("step", approval["step_id"], S.WAITING_APPROVAL, S.READY, wait_reason="approved")
    tx.event("approval.approved", f"plan approved by {by}", **_ids(approval))
    settle_goal(tx, approval["goal_id"])
    return "plan approved"


def _approve_budget(tx: Tx, approval: Row, choice: str | None, by: str) -> str:
    """The limit that was reached is raised to what the item offered; the goal goes on."""
    _decide(tx, approval, "approved", by, None, approval["choice"])
    outcome = budget.raise_limit(tx, approval)
    goal = _goal(tx, approval["goal_id"])
    if goal["status"] == G.WAITING:
        set_goal_status(tx, goal["id"], G.RUNNING if goal["started_at"] else G.QUEUED)
    tx.event("approval.approved", f"{outcome} (by {by})", **_ids(approval))
    settle_goal(tx, approval["goal_id"])
    return outcome


APPROVERS: dict[str, Callable[[Tx, Row, str | None, str], str]] = {
    "action": _approve_action,
    "unknown": _approve_unknown,
    "plan": _approve_plan,
    "budget": _approve_budget,
}
"""How approving each kind of item decides it (:data:`approvals.KINDS`)."""


def _resolve_unknown(tx: Tx, approval: Row, choice: str) -> None:
    step_id, action_id = approval["step_id"], approval["action_id"]
    step = steps.step(tx, step_id)
    assert step is not None
    if choice == "run_again":
        end_unrun_action(tx, action_id, A.UNKNOWN, "interrupted; the user chose to run it again")
        _approve_again(tx, step, action_id)
        tx.set_status("step", step_id, S.UNKNOWN, S.READY, wait_reason="approved")
    elif choice == "mark_done":
        result = {"output": "(interrupted; marked done by the user)", "data": {}}
        tx.set_status(
            "action",
            action_id,
            A.UNKNOWN,
            A.SUCCEEDED,
            finished_at=tx.now,
            result=json.dumps(result),
        )
        tx.set_status(
            "step",
            step_id,
            S.UNKNOWN,
            S.COMPLETED,
            wait_reason=None,
            result=json.dumps(result),
            finished_at=tx.now,
        )
        promote_dependents(tx, step_id)
    else:
        end_unrun_action(tx, action_id, A.UNKNOWN, "interrupted; the user chose to skip it")
        tx.set_status("step", step_id, S.UNKNOWN, S.SKIPPED, wait_reason=None, finished_at=tx.now)
        promote_dependents(tx, step_id)


def _approve_again(tx: Tx, step: Row, action_id: int) -> int:
    """The interrupted action again, as a new action already approved: choosing "run again" is
    the one decision it needs. It keeps the tool, arguments, preview and the original decision
    (so a rule-allowed command runs as it did), and its tool-call id, so an agent step answers
    the same call with it."""
    old = store_actions.action(tx, action_id)
    assert old is not None
    new_id = tx.insert(
        "actions",
        {
            "goal_id": old["goal_id"],
            "step_id": old["step_id"],
            "attempt": step["attempt"],
            "tool": old["tool"],
            "args": old["args"],
            "side_effects": old["side_effects"],
            "decision": old["decision"],
            "decision_reason": f"{old['decision_reason']}; run again after an interruption",
            "preview": old["preview"],
            "status": A.PROPOSED,
            "created_at": tx.now,
            "tool_call_id": old["tool_call_id"],
        },
    )
    tx.set_status("action", new_id, A.PROPOSED, A.APPROVED)
    return new_id


def reject(store: Store, approval_id: int, *, reason: str | None = None, by: str = "user") -> None:
    """Reject a pending item; the action never runs and its step fails with the reason."""
    reason = (reason or "").strip() or "no reason given"
    with store.write() as tx:
        _reject(tx, _pending_approval(tx, approval_id), reason, by, "rejected")


def expire_due(tx: Tx) -> int:
    """Pending approvals past their time are denied with reason "timed out", never approved."""
    due = store_limits.due_approvals(tx)
    for approval in due:
        _reject(tx, approval, "timed out", "timeout", "expired")
    return len(due)


def _reject(tx: Tx, approval: Row, reason: str, by: str, status: str) -> None:
    """Reject (or expire, ``status``) an item: a budget stops its goal; a plan, or an agent's
    action, goes back to the model with the reason; a recipe step's action, or an interrupted
    one, fails its step."""
    _decide(tx, approval, status, by, reason, None)
    step = steps.step(tx, approval["step_id"])
    assert step is not None
    kind = approval["kind"]
    if kind == "budget":
        _stop_for_budget(tx, approval, reason, by)
        return
    if kind == "action":
        end_unrun_action(tx, approval["action_id"], A.AWAITING_APPROVAL, f"rejected: {reason}")
    elif kind == "unknown":
        why = f"interrupted; not run again: {reason}"
        end_unrun_action(tx, approval["action_id"], A.UNKNOWN, why)
    said = f"approval {approval['id']} rejected by {by}: {reason}"
    if kind == "plan" or (kind == "action" and step["kind"] == "agent"):
        # The model hears the reason and tries something else.
        tx.set_status("step", step["id"], S.WAITING_APPROVAL, S.READY, wait_reason="resume")
        tx.event("approval.rejected", said, **_ids(approval))
        settle_goal(tx, approval["goal_id"])
        return
    tx.event("approval.rejected", said, **_ids(approval))
    old = S.WAITING_APPROVAL if kind == "action" else S.UNKNOWN
    fail_step(tx, step, f"rejected: {reason}", old=old)


def _stop_for_budget(tx: Tx, approval: Row, reason: str, by: str) -> None:
    """A budget raise was refused: the goal stops (failed), its open steps are cancelled."""
    goal_id = approval["goal_id"]
    for step in steps.in_status(
        tx, goal_id, (S.PENDING, S.READY, S.WAITING_APPROVAL, S.RETRY_WAIT)
    ):
        cancel_step(tx, step, "stopped: budget")
    goal = _goal(tx, goal_id)
    message = f"stopped at its budget by {by}: {reason}"
    if goal["status"] not in GOAL_TERMINAL:
        set_goal_status(tx, goal_id, G.FAILED, message=message)
    tx.event("goal.failed", message, goal_id=goal_id)


def archive_goal(store: Store, goal_id: int) -> None:
    """Hide a finished goal from the lists (its rows stay; ``ls --all`` shows it)."""
    with store.write() as tx:
        goal = _goal(tx, goal_id)
        if goal["archived"]:
            raise ControlError(f"goal {goal_id} is already archived")
        if goal["status"] not in GOAL_TERMINAL:
            raise ControlError(
                f"goal {goal_id} is {goal['status']}; only finished goals are "
                "archived (cancel it first)"
            )
        store_goals.archive(tx, goal_id)
        tx.event("goal.archived", "goal archived (hidden from the list)", goal_id=goal_id)
