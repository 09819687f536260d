"""One way to add a goal (or a schedule) for every front end: the CLI's ``add``, the new-goal
dialog and the welcome's examples.

A :class:`GoalRequest` holds what the person asked for: a recipe (a file, or an example by name)
or a goal in words, and the options. :func:`check` validates it field by field; a
:class:`RequestError` names the field at fault, so the dialog marks that input and the CLI names
that flag, with the same words. :func:`submit` adds the goal, or the schedule when a cron
expression applies (the request's, else the recipe's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_tui.bundled import example_named, for_here, resolve_recipe
from agent_tui.core.goals import add_recipe_goal, add_schedule, add_text_goal
from agent_tui.core.limits import parse_approval_timeout
from agent_tui.core.recipes import Budget, Recipe, RecipeError, load_recipe, validate_cron
from agent_tui.core.store import Store

FIELDS = ("recipe", "text", "priority", "schedule", "budget", "timeout")
"""The fields a request's error may name (the dialog's input ids)."""


class RequestError(ValueError):
    """A field of the request is wrong; ``field`` is one of :data:`FIELDS`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class GoalRequest:
    """A goal to add, as a person asked for it."""

    recipe: str | None = None
    """A recipe file's path, or an example's name (an existing file wins)."""
    text: str | None = None
    """The goal in words, planned by the model."""
    example: bool = False
    """``recipe`` is an example (its file, or a bundled one's name): a relative workspace in it
    means the directory agent-tui runs in, not the example's folder."""
    priority: int | None = None
    schedule: str | None = None
    budget_usd: float | None = None
    approval_timeout: str | None = None
    dry_run: bool = False
    review_plan: bool = False


@dataclass(frozen=True, slots=True)
class Submitted:
    """What :func:`submit` added: a goal, or a schedule (then ``goal_id`` is ``None``)."""

    title: str
    goal_id: int | None = None
    schedule_id: int | None = None
    cron: str | None = None
    next_run_at: float | None = None


def check(request: GoalRequest) -> None:
    """Raise :class:`RequestError` for the first field at fault (nothing is read from disk)."""
    recipe, text = (request.recipe or "").strip(), request.text
    if not recipe and text is None:
        raise RequestError("recipe", "give a recipe or a goal in words")
    if recipe and text is not None:
        raise RequestError("text", "a recipe or a goal in words, not both")
    if request.priority is not None and not 1 <= request.priority <= 10:
        raise RequestError("priority", f"must be from 1 to 10, not {request.priority}")
    if request.schedule is not None:
        if text is not None:
            raise RequestError("schedule", "needs a recipe: goals in words cannot be scheduled yet")
        try:
            validate_cron(request.schedule)
        except ValueError as exc:
            raise RequestError("schedule", str(exc)) from None
    if request.budget_usd is not None and request.budget_usd <= 0:
        raise RequestError("budget", "must be more than 0 dollars")
    if request.approval_timeout is not None:
        try:
            parse_approval_timeout(request.approval_timeout)
        except ValueError as exc:
            raise RequestError("timeout", str(exc)) from None


def submit(store: Store, request: GoalRequest, *, max_attempts: int = 3) -> Submitted:
    """Check the request, then add its goal or schedule. A recipe that cannot be read or is not
    valid raises :class:`RequestError` on the ``recipe`` field."""
    check(request)
    budget = {"max_usd": request.budget_usd} if request.budget_usd else None
    if not request.recipe:
        text = request.text or ""
        goal_id = add_text_goal(
            store,
            text,
            priority=request.priority or 5,
            dry_run=request.dry_run,
            review_plan=request.review_plan,
            budget=budget,
            approval_timeout=request.approval_timeout,
            max_attempts=max_attempts,
        )
        return Submitted(text, goal_id=goal_id)
    path, recipe = _recipe(request)
    if budget:
        limits = recipe.budget.model_dump() if recipe.budget else {}
        recipe = recipe.model_copy(update={"budget": Budget(**(limits | budget))})
    cron = request.schedule or recipe.schedule
    if cron:
        schedule_id, next_run = add_schedule(
            store,
            recipe,
            cron,
            recipe_path=path,
            priority=request.priority,
            dry_run=request.dry_run,
        )
        return Submitted(recipe.title, schedule_id=schedule_id, cron=cron, next_run_at=next_run)
    goal_id = add_recipe_goal(
        store,
        recipe,
        recipe_path=path,
        priority=request.priority,
        dry_run=request.dry_run,
        approval_timeout=request.approval_timeout,
        max_attempts=max_attempts,
    )
    return Submitted(recipe.title, goal_id=goal_id)


def _recipe(request: GoalRequest) -> tuple[Path, Recipe]:
    name = (request.recipe or "").strip()
    try:
        if request.example:
            path = Path(name) if Path(name).is_file() else example_named(name)
            if path is None:
                raise RecipeError(f"no example is called {name!r}")
            return path, for_here(load_recipe(path))
        return resolve_recipe(name)
    except RecipeError as exc:
        raise RequestError("recipe", str(exc)) from None
