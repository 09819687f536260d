"""Every transition of the three state machines against a specification written out here, apart
from the code's tables: a transition added to or dropped from ``states.py`` fails a test until
this specification (the reviewed contract, DESIGN.md §2) says the same."""

from __future__ import annotations

import itertools

import pytest

from agent_tui.core import states
from agent_tui.core.states import ActionStatus, GoalStatus, IllegalTransition, StepStatus

SPEC: dict[str, dict[str, set[str]]] = {
    "goal": {
        "queued": {"planning", "running", "paused", "waiting", "completed", "failed", "cancelled"},
        "planning": {"running", "waiting", "paused", "failed", "cancelled"},
        "running": {"paused", "waiting", "planning", "completed", "failed", "cancelled"},
        "paused": {"queued", "running", "cancelled"},
        "waiting": {"queued", "planning", "running", "paused", "completed", "failed", "cancelled"},
        "completed": set(),  # final
        "failed": {"running", "queued"},  # retry
        "cancelled": {"running", "queued"},  # retry
    },
    "step": {
        "pending": {"ready", "skipped", "cancelled"},
        "ready": {"running", "skipped", "cancelled"},
        "running": {
            "completed",
            "failed",
            "waiting_approval",
            "retry_wait",
            "ready",
            "unknown",
            "cancelled",
        },
        "waiting_approval": {"ready", "failed", "cancelled"},
        "retry_wait": {"ready", "failed", "cancelled"},
        "completed": set(),  # completed work is never replayed
        "failed": {"ready", "pending"},  # retry
        "skipped": set(),
        "cancelled": {"ready", "pending"},  # retry
        "unknown": {"ready", "completed", "skipped", "failed", "cancelled"},  # a human decides
    },
    "action": {
        "proposed": {"awaiting_approval", "approved", "denied", "dry_run"},
        "awaiting_approval": {"approved", "rejected"},
        "approved": {"running", "dry_run", "failed"},
        "running": {"succeeded", "failed", "unknown"},
        "succeeded": set(),
        "failed": set(),
        "rejected": set(),  # a rejected action never runs
        "denied": set(),
        "dry_run": set(),
        "unknown": {"succeeded", "failed"},  # "mark done" or "skip" after a crash
    },
}
ENUMS = {"goal": GoalStatus, "step": StepStatus, "action": ActionStatus}


def _all_pairs():
    for kind, spec in SPEC.items():
        for old, new in itertools.product(spec, spec):
            yield pytest.param(kind, old, new, new in spec[old], id=f"{kind}:{old}->{new}")


@pytest.mark.parametrize(("kind", "old", "new", "legal"), list(_all_pairs()))
def test_every_transition(kind: str, old: str, new: str, legal: bool) -> None:
    assert states.allowed(kind, old, new) is legal
    if legal:
        states.check(kind, old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"{kind} transition: {old} → {new}"):
            states.check(kind, old, new)


@pytest.mark.parametrize("kind", list(SPEC))
def test_the_states_are_those_specified(kind: str) -> None:
    assert {s.value for s in ENUMS[kind]} == set(SPEC[kind])


def test_terminal_sets_match_the_spec() -> None:
    """The terminal sets hold the states nothing leaves except a retry."""
    assert {"completed", "failed", "cancelled"} == states.GOAL_TERMINAL
    assert {"completed", "failed", "skipped", "cancelled"} == states.STEP_TERMINAL
    assert {"completed", "skipped"} == states.STEP_DONE
    assert {"succeeded", "failed", "rejected", "denied", "dry_run"} == states.ACTION_TERMINAL
    for terminal in states.ACTION_TERMINAL:
        assert SPEC["action"][terminal] == set()


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
