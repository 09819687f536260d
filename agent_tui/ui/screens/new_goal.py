"""The "new goal" dialog: a recipe file (explicit steps, no model needed) or a goal in words.

Options: priority, a cron schedule (recipes only: a schedule instead of a run now), a budget in
dollars, dry run, plan review and the approval timeout. Enter in any field adds the goal in one
transaction and closes the dialog with its id; anything invalid is one line pinned below the
fields, the field at fault is marked and focused, and the dialog stays open. The fields scroll
inside the dialog, so the error and the keys stay visible on an 80×24 terminal. The checks are
the ones ``agent-tui add`` makes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Checkbox, Input, Label, Static

from agent_tui.bundled import resolve_recipe
from agent_tui.config import Settings
from agent_tui.core.goals import add_recipe_goal, add_schedule, add_text_goal
from agent_tui.core.limits import parse_approval_timeout
from agent_tui.core.recipes import Budget, RecipeError, validate_cron
from agent_tui.core.store import Store
from agent_tui.ui.writes import Deferred


class PathSuggester(Suggester):
    """Completes the last component of a path from what exists on disk (``→`` accepts)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        path = Path(value).expanduser()
        folder, stem = (path, "") if value.endswith(os.sep) else (path.parent, path.name)
        try:
            names = sorted(
                entry.name + (os.sep if entry.is_dir() else "")
                for entry in os.scandir(folder)
                if entry.name.startswith(stem) and not entry.name.startswith(".")
            )
        except OSError:
            return None
        for name in names:
            if name.endswith(".toml") or name.endswith(os.sep):
                return value + name[len(stem) :]
        return None


class FieldError(ValueError):
    """A field's value is wrong; ``field`` is the id of the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class GoalOptions:
    """What the dialog's fields say besides the goal itself, validated."""

    priority: int | None
    schedule: str | None
    budget_usd: float | None
    approval_timeout: str | None
    dry_run: bool
    review_plan: bool


class NewGoalScreen(ModalScreen[int | None]):
    """Returns the new goal's id, or ``None`` when cancelled (or when a schedule was added)."""

    CSS_PATH = "new_goal.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="new_goal_cancel"),
        Binding("ctrl+s", "add", "Add", id="new_goal_add"),
    ]

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="new-goal"):
            yield Static("New goal", id="new-goal-title")
            yield from self._fields()
            yield Static("", id="new-goal-error", markup=False)
            yield Static(
                "enter: add · →: complete a path · tab: next field · escape: cancel",
                id="new-goal-keys",
            )

    def _fields(self) -> ComposeResult:
        fields = VerticalScroll(id="new-goal-fields")
        fields.can_focus = False  # tab goes from field to field; the view follows the focus
        with fields:
            yield Label("Recipe file (TOML, explicit steps; no model needed)")
            yield Input(
                placeholder="a file, or an example: system-report",
                id="recipe",
                suggester=PathSuggester(),
            )
            yield Label("or describe what you want done (planned by the model)")
            yield Input(placeholder="e.g. summarise this week's git log", id="text")
            with Grid(id="new-goal-options"):
                yield Label("Priority 1–10")
                yield Input(placeholder="5", id="priority", type="integer")
                yield Label("Schedule (cron)")
                yield Input(placeholder="0 9 * * 1", id="schedule")
                yield Label("Budget, US $")
                yield Input(placeholder="no limit", id="budget", type="number")
                yield Label("Approval timeout")
                yield Input(placeholder="wait, or 30m", id="timeout")
            with Horizontal(id="new-goal-switches"):
                yield Checkbox("Dry run (side effects recorded, never run)", id="dry-run")
                yield Checkbox("Review the plan first", id="review-plan")

    def on_mount(self) -> None:
        self.query_one("#recipe", Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def options(self) -> GoalOptions:
        """The option fields, checked; raise :class:`ValueError` naming the field at fault."""
        priority = int(self._value("priority")) if self._value("priority") else None
        if priority is not None and not 1 <= priority <= 10:
            raise FieldError("priority", f"priority must be from 1 to 10, not {priority}")
        schedule = self._value("schedule") or None
        if schedule is not None:
            try:
                validate_cron(schedule)
            except ValueError as exc:
                raise FieldError("schedule", f"schedule: {exc}") from None
        budget = float(self._value("budget")) if self._value("budget") else None
        if budget is not None and budget <= 0:
            raise FieldError("budget", "the budget must be more than 0 dollars")
        timeout = self._value("timeout") or None
        if timeout is not None:
            try:
                parse_approval_timeout(timeout)
            except ValueError as exc:
                raise FieldError("timeout", f"approval timeout: {exc}") from None
        return GoalOptions(
            priority=priority,
            schedule=schedule,
            budget_usd=budget,
            approval_timeout=timeout,
            dry_run=self.query_one("#dry-run", Checkbox).value,
            review_plan=self.query_one("#review-plan", Checkbox).value,
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_add()

    def action_add(self) -> None:
        """Add the goal (or the schedule) the fields describe, or say what is wrong."""
        recipe, text = self._value("recipe"), self._value("text")
        if not recipe and not text:
            self._error("type a recipe path or a goal first", "recipe")
            return
        if recipe and text:
            self._error("a recipe path or a goal in words, not both", "text")
            return
        try:
            options = self.options()
            goal_id = self._add_recipe(recipe, options) if recipe else self._add_text(text, options)
        except FieldError as exc:
            self._error(str(exc), exc.field)
            return
        except RecipeError as exc:
            self._error(str(exc), "recipe")
            return
        except ValueError as exc:
            self._error(str(exc), "recipe" if recipe else "text")
            return
        self.dismiss(goal_id)

    def _add_recipe(self, arg: str, options: GoalOptions) -> int | None:
        path, recipe = resolve_recipe(arg)
        if options.budget_usd is not None:
            limits = recipe.budget.model_dump() if recipe.budget else {}
            budget = Budget(**(limits | {"max_usd": options.budget_usd}))
            recipe = recipe.model_copy(update={"budget": budget})
        cron = options.schedule or recipe.schedule
        if cron:
            schedule_id, _ = add_schedule(
                self.store,
                recipe,
                cron,
                recipe_path=path,
                priority=options.priority,
                dry_run=options.dry_run,
            )
            self.app.notify(f"schedule {schedule_id} added: '{recipe.title}' ({cron})")
            return None
        return self._write(
            add_recipe_goal,
            recipe,
            recipe_path=path,
            priority=options.priority,
            dry_run=options.dry_run,
            approval_timeout=options.approval_timeout,
            max_attempts=self.settings.retry.max_attempts,
        )

    def _add_text(self, text: str, options: GoalOptions) -> int | None:
        if options.schedule:
            raise FieldError(
                "schedule", "a schedule needs a recipe: goals in words cannot be scheduled yet"
            )
        return self._write(
            add_text_goal,
            text,
            priority=options.priority or 5,
            dry_run=options.dry_run,
            review_plan=options.review_plan,
            budget={"max_usd": options.budget_usd} if options.budget_usd else None,
            approval_timeout=options.approval_timeout,
            max_attempts=self.settings.retry.max_attempts,
        )

    def _write(self, add: Callable[..., int], *args: Any, **kwargs: Any) -> int | None:
        """Add through the app's writes: ``None`` when it waits for the database (a toast says
        the goal was added once it is)."""
        write = getattr(self.app, "write", None)
        if write is None:
            return add(self.store, *args, **kwargs)
        app = self.app

        def added(goal_id: int) -> None:
            app.notify(f"goal {goal_id} added", markup=False)

        result = write(add, *args, what="add the goal", then=added, **kwargs)
        return None if isinstance(result, Deferred) else int(result)

    def _error(self, message: str, field: str | None = None) -> None:
        """Show ``message`` below the fields; mark ``field``, focus it and scroll it into view."""
        error = self.query_one("#new-goal-error", Static)
        error.update(message)
        error.set_class(bool(message), "-shown")
        for box in self.query(Input):
            box.set_class(box.id == field, "-invalid")
        if field is not None:
            box = self.query_one(f"#{field}", Input)
            box.focus()
            self.query_one("#new-goal-fields", VerticalScroll).scroll_to_widget(box, animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)
