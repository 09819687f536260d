"""Creating goals (from recipes or free text) and schedules, each in one transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_tui import paths
from agent_tui.core import cron
from agent_tui.core.recipes import Recipe, validate_cron
from agent_tui.core.states import GoalStatus, StepStatus
from agent_tui.core.store import Store, Tx
from agent_tui.core.store import goals as store_goals
from agent_tui.core.store import steps as store_steps


def _workspace(goal_id: int, recipe: Recipe | None, recipe_path: Path | None) -> str:
    if recipe is not None and recipe.workspace:
        raw = Path(recipe.workspace).expanduser()
        if not raw.is_absolute():
            raw = (recipe_path.parent if recipe_path else Path.cwd()) / raw
        return str(raw.resolve())
    return str(paths.workspaces_dir() / str(goal_id))


def _timeout_seconds(text: str | None) -> float | None:
    """Seconds until an approval is denied; -1 means wait for ever; ``None`` the default."""
    if text is None:
        return None
    from agent_tui.core.limits import parse_approval_timeout

    seconds = parse_approval_timeout(text)
    return -1.0 if seconds is None else seconds


def insert_recipe_goal(
    tx: Tx,
    recipe: Recipe,
    *,
    recipe_path: Path | None = None,
    priority: int | None = None,
    dry_run: bool = False,
    schedule_id: int | None = None,
    max_attempts: int = 3,
    approval_timeout: str | None = None,
) -> int:
    """Insert a goal with plan version 1 and its steps; roots are ready, the rest pending."""
    now = tx.now
    goal_id = tx.insert(
        "goals",
        {
            "title": recipe.title,
            "source": "recipe",
            "recipe_path": str(recipe_path) if recipe_path else None,
            "recipe": recipe.model_dump_json(),
            "status": GoalStatus.QUEUED,
            "priority": priority if priority is not None else recipe.priority,
            "dry_run": int(dry_run or recipe.dry_run),
            "max_parallel": recipe.max_parallel,
            "runs_on": recipe.runs_on,
            "workspace": "",
            "schedule_id": schedule_id,
            "plan_version": 1,
            "budget": recipe.budget.model_dump_json() if recipe.budget else None,
            "approval_timeout": _timeout_seconds(approval_timeout or recipe.approval_timeout),
            "created_at": now,
            "updated_at": now,
        },
    )
    store_goals.set_workspace(tx, goal_id, _workspace(goal_id, recipe, recipe_path))
    steps = [s.model_dump() for s in recipe.steps]
    tx.insert(
        "plans",
        {
            "goal_id": goal_id,
            "version": 1,
            "reason": "recipe",
            "steps": json.dumps(steps),
            "created_at": now,
        },
    )
    ids: dict[str, int] = {}
    for position, spec in enumerate(recipe.steps):
        ids[spec.id] = tx.insert(
            "steps",
            {
                "goal_id": goal_id,
                "plan_version": 1,
                "key": spec.id,
                "position": position,
                "title": spec.title or spec.id,
                "kind": spec.kind,
                "tool": spec.tool,
                "args": json.dumps(spec.args),
                "instructions": spec.instructions,
                "tools": json.dumps(spec.tools) if spec.kind == "agent" else None,
                "approval": spec.approval,
                "status": StepStatus.PENDING if spec.depends_on else StepStatus.READY,
                "max_attempts": spec.max_attempts or max_attempts,
                "created_at": now,
                "updated_at": now,
            },
        )
    for spec in recipe.steps:
        for dep in spec.depends_on:
            store_steps.add_dependency(tx, ids[spec.id], ids[dep])
    tx.event(
        "goal.created",
        f"goal '{recipe.title}' added with {len(steps)} steps",
        goal_id=goal_id,
        source="recipe",
    )
    return goal_id


def add_recipe_goal(store: Store, recipe: Recipe, **kwargs: Any) -> int:
    with store.write() as tx:
        return insert_recipe_goal(tx, recipe, **kwargs)


def add_text_goal(
    store: Store,
    text: str,
    *,
    priority: int = 5,
    dry_run: bool = False,
    review_plan: bool = False,
    budget: dict[str, float] | None = None,
    max_attempts: int = 3,
    approval_timeout: str | None = None,
) -> int:
    """Store a free-text goal with its plan step; the executor plans it when a model is there."""
    from agent_tui.core.planner import insert_plan_step

    text = text.strip()
    if not text:
        raise ValueError("the goal text is empty")
    title = text.splitlines()[0][:80]
    with store.write() as tx:
        goal_id = tx.insert(
            "goals",
            {
                "title": title,
                "source": "text",
                "text": text,
                "status": GoalStatus.QUEUED,
                "priority": priority,
                "dry_run": int(dry_run),
                "review_plan": int(review_plan),
                "approval_timeout": _timeout_seconds(approval_timeout),
                "budget": json.dumps(budget) if budget else None,
                "plan_version": 1,
                "workspace": "",
                "created_at": tx.now,
                "updated_at": tx.now,
            },
        )
        store_goals.set_workspace(tx, goal_id, _workspace(goal_id, None, None))
        insert_plan_step(tx, goal_id, 1, max_attempts=max_attempts)
        tx.event("goal.created", f"goal '{title}' added", goal_id=goal_id, source="text")
    return goal_id


def next_fire(expr: str, after: float) -> float:
    """The first time after ``after`` (epoch seconds) that ``expr`` fires, in local time."""
    return cron.next_fire(expr, after)


def add_schedule(
    store: Store,
    recipe: Recipe,
    cron: str,
    *,
    recipe_path: Path | None = None,
    priority: int | None = None,
    dry_run: bool = False,
) -> tuple[int, float]:
    """Store a schedule that spawns a run of ``recipe`` at each cron time; return id and next run."""
    validate_cron(cron)
    with store.write() as tx:
        next_run = next_fire(cron, tx.now)
        schedule_id = tx.insert(
            "schedules",
            {
                "title": recipe.title,
                "cron": cron,
                "recipe": recipe.model_dump_json(),
                "recipe_path": str(recipe_path) if recipe_path else None,
                "priority": priority if priority is not None else recipe.priority,
                "dry_run": int(dry_run or recipe.dry_run),
                "next_run_at": next_run,
                "created_at": tx.now,
            },
        )
        tx.event(
            "schedule.created",
            f"schedule '{recipe.title}' ({cron}) added",
            schedule_id=schedule_id,
            next_run_at=next_run,
        )
    return schedule_id, next_run
