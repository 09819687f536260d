"""The "new goal" dialog: a recipe file (explicit steps, no model needed) or a goal in words.

Enter in either field adds the goal in one transaction and closes the dialog with its id; a recipe
that does not validate shows its one-line error under the fields and the dialog stays open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static

from agent_tui.config import Settings
from agent_tui.core.goals import add_recipe_goal, add_schedule, add_text_goal
from agent_tui.core.recipes import RecipeError, load_recipe
from agent_tui.core.store import Store


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


class NewGoalScreen(ModalScreen[int | None]):
    """Returns the new goal's id, or ``None`` when cancelled (or when a schedule was added)."""

    CSS_PATH = "new_goal.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="new_goal_cancel"),
    ]

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="new-goal"):
            yield Static("New goal", id="new-goal-title")
            yield Label("Recipe file (TOML, explicit steps; no model needed)")
            yield Input(
                placeholder="examples/system-report.toml", id="recipe", suggester=PathSuggester()
            )
            yield Label("or describe what you want done (planned by the model)")
            yield Input(placeholder="for example: summarise this week's git log", id="text")
            yield Static("", id="new-goal-error", markup=False)
            yield Static(
                "enter: add · → completes a path · tab: next field · escape: cancel",
                id="new-goal-keys",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value:
            self._error("type a recipe path or a goal first")
            return
        try:
            if event.input.id == "recipe":
                goal_id = self._add_recipe(Path(value).expanduser().absolute())
            else:
                goal_id = add_text_goal(self.store, value)
        except (RecipeError, ValueError) as exc:
            self._error(str(exc))
            return
        self.dismiss(goal_id)

    def _add_recipe(self, path: Path) -> int | None:
        recipe = load_recipe(path)
        if recipe.schedule:
            schedule_id, _ = add_schedule(self.store, recipe, recipe.schedule, recipe_path=path)
            self.app.notify(f"schedule {schedule_id} added: '{recipe.title}' ({recipe.schedule})")
            return None
        return add_recipe_goal(
            self.store, recipe, recipe_path=path, max_attempts=self.settings.retry.max_attempts
        )

    def _error(self, message: str) -> None:
        error = self.query_one("#new-goal-error", Static)
        error.update(message)
        error.set_class(bool(message), "-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
