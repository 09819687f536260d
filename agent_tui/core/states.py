"""The state machines of goals, steps and actions, and the one function that checks a transition.

Every status change in the store goes through :func:`check`, so an illegal transition raises
:class:`IllegalTransition` instead of corrupting the record.
"""

from __future__ import annotations

from enum import StrEnum


class GoalStatus(StrEnum):
    QUEUED = "queued"
    PLANNING = "planning"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    RETRY_WAIT = "retry_wait"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class ActionStatus(StrEnum):
    PROPOSED = "proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    DENIED = "denied"
    DRY_RUN = "dry_run"
    UNKNOWN = "unknown"


G, S, A = GoalStatus, StepStatus, ActionStatus

GOAL_TRANSITIONS: dict[GoalStatus, frozenset[GoalStatus]] = {
    G.QUEUED: frozenset(
        {G.PLANNING, G.RUNNING, G.PAUSED, G.WAITING, G.COMPLETED, G.FAILED, G.CANCELLED}
    ),
    G.PLANNING: frozenset({G.RUNNING, G.WAITING, G.PAUSED, G.FAILED, G.CANCELLED}),
    G.RUNNING: frozenset({G.PAUSED, G.WAITING, G.PLANNING, G.COMPLETED, G.FAILED, G.CANCELLED}),
    G.PAUSED: frozenset({G.QUEUED, G.RUNNING, G.CANCELLED}),
    G.WAITING: frozenset(
        {G.QUEUED, G.PLANNING, G.RUNNING, G.PAUSED, G.COMPLETED, G.FAILED, G.CANCELLED}
    ),
    G.COMPLETED: frozenset(),
    G.FAILED: frozenset({G.RUNNING, G.QUEUED}),
    G.CANCELLED: frozenset({G.RUNNING, G.QUEUED}),
}

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    S.PENDING: frozenset({S.READY, S.SKIPPED, S.CANCELLED}),
    S.READY: frozenset({S.RUNNING, S.SKIPPED, S.CANCELLED}),
    S.RUNNING: frozenset(
        {S.COMPLETED, S.FAILED, S.WAITING_APPROVAL, S.RETRY_WAIT, S.READY, S.UNKNOWN, S.CANCELLED}
    ),
    S.WAITING_APPROVAL: frozenset({S.READY, S.FAILED, S.CANCELLED}),
    S.RETRY_WAIT: frozenset({S.READY, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset({S.READY, S.PENDING}),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset({S.READY, S.PENDING}),
    S.UNKNOWN: frozenset({S.READY, S.COMPLETED, S.SKIPPED, S.FAILED, S.CANCELLED}),
}

ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    A.PROPOSED: frozenset({A.AWAITING_APPROVAL, A.APPROVED, A.DENIED, A.DRY_RUN}),
    A.AWAITING_APPROVAL: frozenset({A.APPROVED, A.REJECTED}),
    A.APPROVED: frozenset({A.RUNNING, A.DRY_RUN, A.FAILED}),
    A.RUNNING: frozenset({A.SUCCEEDED, A.FAILED, A.UNKNOWN}),
    A.SUCCEEDED: frozenset(),
    A.FAILED: frozenset(),
    A.REJECTED: frozenset(),
    A.DENIED: frozenset(),
    A.DRY_RUN: frozenset(),
    A.UNKNOWN: frozenset({A.SUCCEEDED, A.FAILED}),
}

GOAL_TERMINAL = frozenset({G.COMPLETED, G.FAILED, G.CANCELLED})
STEP_TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.SKIPPED, S.CANCELLED})
STEP_DONE = frozenset({S.COMPLETED, S.SKIPPED})
"""Step states that satisfy a dependency."""
ACTION_TERMINAL = frozenset({A.SUCCEEDED, A.FAILED, A.REJECTED, A.DENIED, A.DRY_RUN})

_TABLES = {"goal": GOAL_TRANSITIONS, "step": STEP_TRANSITIONS, "action": ACTION_TRANSITIONS}


class IllegalTransition(Exception):
    """A status change the state machine does not allow."""

    def __init__(self, kind: str, old: str, new: str) -> None:
        super().__init__(f"illegal {kind} transition: {old} → {new}")
        self.kind, self.old, self.new = kind, old, new


def allowed(kind: str, old: str, new: str) -> bool:
    """Whether ``kind`` (goal, step or action) may go from ``old`` to ``new``."""
    table = _TABLES[kind]
    return new in table[old]  # type: ignore[index]


def check(kind: str, old: str, new: str) -> None:
    """Raise :class:`IllegalTransition` unless the transition is allowed."""
    if not allowed(kind, old, new):
        raise IllegalTransition(kind, old, new)
