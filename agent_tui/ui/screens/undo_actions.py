"""Undo from the TUI: ``u`` undoes what the selected goal changed, ``U`` the highlighted step.

The plan is made off the UI thread (it snapshots the workspace with git), shown in a confirmation
dialog exactly as ``agent-tui undo`` prints it, and carried out off the UI thread too.
"""

from __future__ import annotations

from contextlib import closing

from textual import work

from agent_tui.config import Settings
from agent_tui.core import display
from agent_tui.core.checkpoints.undo import UndoError, UndoPlan, apply_undo, plan_undo
from agent_tui.core.store import Store, checkpoints, open_store
from agent_tui.ui.screens.approval_actions import ControlActions
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.widgets.step_timeline import StepTimeline
from agent_tui.ui.worker_errors import ReportsWorkerErrors


class UndoActions(ReportsWorkerErrors, ControlActions, inherit_bindings=False):
    """The undo keys' actions; the bindings are declared with the main screen's."""

    settings: Settings

    def action_undo(self, scope: str) -> None:
        goal = self.goal
        if goal is None:
            return
        step_key = None
        if scope == "step":
            timeline = self.query_one(StepTimeline)
            step = timeline.step(timeline.step_id)
            if step is None:
                return
            step_key = str(step["key"])
        self._plan_undo(int(goal["id"]), step_key)

    def _own_store(self) -> Store:
        """A connection of the worker thread's own: a connection is never shared across threads
        (a transaction on it would take in the other thread's statements)."""
        return open_store(self.settings, self.store.address)

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False)
    def _plan_undo(self, goal_id: int, step_key: str | None) -> None:
        try:
            with closing(self._own_store()) as store:
                plan = plan_undo(store, goal_id, step_key)
        except UndoError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning")
            return
        self.app.call_from_thread(self._confirm_undo, plan)

    def _confirm_undo(self, plan: UndoPlan) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._apply_undo(plan, force=bool(plan.conflicts))

        question = f"Undo {plan.scope}?"
        detail = plan.describe()
        if plan.conflicts:
            detail += "\n\nFiles marked CONFLICT were changed since; yes overwrites them too."
        self.app.push_screen(ConfirmScreen(question, detail), answered)

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False)
    def _apply_undo(self, plan: UndoPlan, force: bool) -> None:
        try:
            undo_id = apply_undo(self.store, plan, force=force, by="tui")
        except UndoError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        row = checkpoints.checkpoint(self.store, undo_id)
        done = (
            display.changes_summary(row["files"], row["added"], row["removed"]) if row else "done"
        )
        self.app.call_from_thread(self._undone, plan, done)

    def _undone(self, plan: UndoPlan, done: str) -> None:
        self.notify(f"undid {plan.scope}: {done} (u again puts it back)")
        self.refresh_goals({plan.goal_id})

    def refresh_goals(self, ids: set[int] | None = None) -> None:
        raise NotImplementedError
