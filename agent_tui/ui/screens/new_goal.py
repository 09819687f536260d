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
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Checkbox, Input, Label, Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.goal_requests import GoalRequest, RequestError, Submitted, check, submit
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.writes import Deferred, write_from


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


class NewGoalScreen(SurvivesAway, ModalScreen[int | None]):
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

    def request(self) -> GoalRequest:
        """What the fields ask for (checked by :func:`submit`; a number field that does not
        parse is its own error)."""
        priority = self._value("priority")
        budget = self._value("budget")
        try:
            priority_value = int(priority) if priority else None
        except ValueError:
            raise RequestError("priority", f"must be a whole number, not {priority!r}") from None
        try:
            budget_value = float(budget) if budget else None
        except ValueError:
            raise RequestError("budget", f"must be a number of dollars, not {budget!r}") from None
        return GoalRequest(
            recipe=self._value("recipe") or None,
            text=self._value("text") or None,
            priority=priority_value,
            schedule=self._value("schedule") or None,
            budget_usd=budget_value,
            approval_timeout=self._value("timeout") or None,
            dry_run=self.query_one("#dry-run", Checkbox).value,
            review_plan=self.query_one("#review-plan", Checkbox).value,
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_add()

    def action_add(self) -> None:
        """Add the goal (or the schedule) the fields describe, or say what is wrong."""
        try:
            request = self.request()
            check(request)
        except RequestError as exc:
            self._error(_said(exc), exc.field)
            return
        app = self.app

        def later(done: Submitted) -> None:  # saved once the database was free
            what = f"goal {done.goal_id}" if done.goal_id is not None else "the schedule"
            app.notify(f"{what} added: '{done.title}'", markup=False)

        try:
            result = write_from(
                self,
                self.store,
                submit,
                request,
                what="add the goal",
                then=later,
                max_attempts=self.settings.retry.max_attempts,
            )
        except RequestError as exc:
            self._error(_said(exc), exc.field)
            return
        if isinstance(result, Deferred):
            self.dismiss(None)
            return
        if result.schedule_id is not None:
            app.notify(
                f"schedule {result.schedule_id} added: '{result.title}' ({result.cron})",
                markup=False,
            )
        self.dismiss(result.goal_id)

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


LABELS = {"timeout": "approval timeout"}
"""How the dialog names a field in an error, where its id would not do."""


def _said(exc: RequestError) -> str:
    """An error as the dialog shows it: the field's name, then what is wrong with it (a recipe's
    own errors and the "which one" questions say it themselves)."""
    if exc.field in ("recipe", "text"):
        return str(exc)
    return f"{LABELS.get(exc.field, exc.field)}: {exc}"
