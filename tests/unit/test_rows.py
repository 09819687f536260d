"""Typed rows at the read boundary: what the store hands up is a frozen snapshot with enum statuses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.states import GoalStatus, StepStatus
from agent_tui.core.store import Store, goals, runs, steps
from agent_tui.core.store.rows import Goal, Step


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "agent.db")


def _goal(store: Store) -> int:
    recipe = parse_recipe(
        {"title": "two", "steps": [{"id": "a", "tool": "echo", "args": {"text": "x"}}]}
    )
    return add_recipe_goal(store, recipe)


def test_a_goal_is_read_as_a_frozen_typed_row(store: Store) -> None:
    goal_id = _goal(store)
    goal = goals.goal(store, goal_id)
    assert isinstance(goal, Goal)
    assert goal.id == goal_id and goal.title == "two"
    assert goal.status is GoalStatus.QUEUED
    assert goal["status"] == "queued"  # a column read by name is the same value
    with pytest.raises(dataclasses.FrozenInstanceError):
        goal.status = GoalStatus.RUNNING  # type: ignore[misc]
    with pytest.raises(TypeError):
        goal["status"] = "running"  # type: ignore[index]
    assert goals.goal(store, goal_id + 1) is None


def test_a_claimed_step_is_a_typed_row_in_its_new_state(store: Store) -> None:
    _goal(store)
    with store.write() as tx:
        [claimed] = runs.claim(tx, "me", runs.ClaimLimits(4, 4, 30.0), 4)
    assert isinstance(claimed, Step)
    assert claimed.status is StepStatus.RUNNING and claimed.attempt == 1
    assert claimed.lease_owner == "me"
    again = steps.step(store, claimed.id)
    assert again is not None and again.status is StepStatus.RUNNING


def test_a_row_is_a_read_only_mapping_of_its_columns() -> None:
    row = {"id": 1, "title": "t", "source": "recipe", "status": "paused", "workspace": "/w"}
    goal = Goal.of({**row, "plan_version": 1, "a_column_added_later": 7})
    assert dict(goal)["title"] == "t" and len(goal) == len(dataclasses.fields(Goal))
    assert "title" in goal and "a_column_added_later" not in goal
    assert goal.get("a_column_added_later", "absent") == "absent"
    with pytest.raises(KeyError):
        goal["a_column_added_later"]


def test_a_status_no_state_machine_knows_is_refused() -> None:
    with pytest.raises(ValueError, match="exploded"):
        Goal.of(
            {
                "id": 1,
                "title": "t",
                "source": "recipe",
                "status": "exploded",
                "workspace": "/w",
                "plan_version": 1,
            }
        )
