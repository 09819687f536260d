"""The goal pane: the goal list under a filter field that ``/`` opens.

Typing filters at once (title, status or ``#id``); enter keeps the filter and returns to the list;
escape clears it. The pane's border says the sort order and how many goals are shown.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input

from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.widgets.goal_list import SORTS, GoalList


class FilterInput(Input):
    """The filter field; escape clears it and goes back to the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", id="filter_clear"),
    ]

    def action_clear_filter(self) -> None:
        self.value = ""
        pane = self.parent
        if isinstance(pane, GoalPane):
            pane.close_filter()


class GoalPane(SurvivesAway, Vertical):
    """A bordered box with the filter field (hidden until used) above the list."""

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter: title, status or #id", id="goal-filter")
        yield GoalList(id="goals")

    def on_mount(self) -> None:
        self.border_title = "Goals"
        self.query_one(FilterInput).can_focus = False

    @property
    def goals(self) -> GoalList:
        return self.query_one(GoalList)

    def open_filter(self) -> None:
        field = self.query_one(FilterInput)
        field.can_focus = True
        field.add_class("-shown")
        field.focus()

    def close_filter(self) -> None:
        """Back to the list; an empty field hides and stops taking the focus."""
        field = self.query_one(FilterInput)
        if not field.value:
            field.remove_class("-shown")
            field.can_focus = False
        self.goals.focus()

    def cycle_sort(self) -> str:
        goals = self.goals
        mode = SORTS[(SORTS.index(goals.sort) + 1) % len(SORTS)]
        goals.set_sort(mode)
        self.describe()
        return mode

    def describe(self) -> None:
        """The border subtitle: sort order, and the count when a filter hides some goals."""
        goals = self.goals
        shown = f"{len(goals.order)} of {len(goals.rows)} · " if goals.filter else ""
        self.border_subtitle = f"{shown}by {goals.sort}"

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.goals.set_filter(event.value.strip())
        self.describe()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter()
