"""Every transition of the three state machines: the allowed ones pass, all others raise."""

from __future__ import annotations

import itertools

import pytest

from agent_tui.core import states
from agent_tui.core.states import (
    ACTION_TRANSITIONS,
    GOAL_TRANSITIONS,
    STEP_TRANSITIONS,
    ActionStatus,
    GoalStatus,
    IllegalTransition,
    StepStatus,
)

MACHINES = [
    ("goal", GoalStatus, GOAL_TRANSITIONS),
    ("step", StepStatus, STEP_TRANSITIONS),
    ("action", ActionStatus, ACTION_TRANSITIONS),
]


def _all_pairs():
    for kind, enum, table in MACHINES:
        for old, new in itertools.product(enum, enum):
            yield pytest.param(kind, old, new, new in table[old], id=f"{kind}:{old}->{new}")


@pytest.mark.parametrize(("kind", "old", "new", "legal"), list(_all_pairs()))
def test_every_transition(kind: str, old: str, new: str, legal: bool) -> None:
    if legal:
        states.check(kind, old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"{kind} transition: {old} → {new}"):
            states.check(kind, old, new)


@pytest.mark.parametrize(("kind", "enum", "table"), MACHINES, ids=[m[0] for m in MACHINES])
def test_every_state_has_a_row(kind, enum, table) -> None:
    assert set(table) == set(enum)


def test_terminal_states_lead_nowhere_but_retry() -> None:
    assert GOAL_TRANSITIONS[GoalStatus.COMPLETED] == frozenset()
    assert STEP_TRANSITIONS[StepStatus.COMPLETED] == frozenset()
    assert ACTION_TRANSITIONS[ActionStatus.SUCCEEDED] == frozenset()
    assert ACTION_TRANSITIONS[ActionStatus.REJECTED] == frozenset()


def test_the_documented_paths() -> None:
    goal = ["queued", "planning", "running", "paused", "running", "completed"]
    step = [
        "pending",
        "ready",
        "running",
        "waiting_approval",
        "ready",
        "running",
        "retry_wait",
        "ready",
        "running",
        "completed",
    ]
    action = ["proposed", "awaiting_approval", "approved", "running", "succeeded"]
    for kind, path in (("goal", goal), ("step", step), ("action", action)):
        for old, new in itertools.pairwise(path):
            assert states.allowed(kind, old, new), (kind, old, new)
