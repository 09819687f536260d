"""The approval keys of the main screen, and the one way every key calls the core.

:class:`ControlActions` runs each decision through one :mod:`agent_tui.core.control` function; a
:class:`ControlError` becomes a toast. ``a``, ``r`` and the choices for an interrupted action act
on the highlighted approval; ``A`` shows the rule "always allow" would save before saving it;
``G`` approves every pending action of the selected goal after one question.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.screen import Screen
from textual.widgets import TabbedContent

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.control import ControlError
from agent_tui.core.store import Row, Store
from agent_tui.core.store.panes import GoalRow, Overview
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.format import one_line
from agent_tui.ui.screens.approval import ApprovalScreen
from agent_tui.ui.screens.dialogs import ConfirmScreen, ReasonScreen
from agent_tui.ui.widgets.approvals import Approvals
from agent_tui.ui.writes import Deferred, write_from

T = TypeVar("T")


class ControlActions(SurvivesAway, Screen[None], inherit_bindings=False):
    """Approval actions and the core call behind every action; the main screen has the state."""

    store: Store
    settings: Settings
    overview: Overview

    @property
    def goal(self) -> GoalRow | None:
        raise NotImplementedError

    def refresh_status(self) -> None:
        raise NotImplementedError

    def refresh_approvals(self) -> None:
        raise NotImplementedError

    def show_pane(self, pane_id: str) -> None:
        raise NotImplementedError

    def _control(self, fn: Callable[..., T], *args: Any, done: str = "", **kwargs: Any) -> T | None:
        """Run one control function; its error becomes a toast, its success an optional one.

        It runs through the app's :class:`~agent_tui.ui.writes.Writes`: when another process
        holds the database, it is saved once the database is free (``None`` now, the toast and
        the refresh then) and the loop never waits for it.
        """

        def finished(result: object) -> None:
            if done:
                self.notify(done, markup=False)
            # The queue and the header both, now: a second key press must not see a stale queue.
            self.refresh_approvals()

        what = fn.__name__.replace("_", " ")
        try:
            result = write_from(self, self.store, fn, *args, what=what, then=finished, **kwargs)
        except ControlError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return None
        if isinstance(result, Deferred):
            return None  # saved later (finished() then says so), or a storage error was told
        finished(result)
        return result

    def _goal_approvals(self) -> list[Row]:
        """The selected goal's pending approvals of actions (what "approve goal" decides)."""
        goal = self.goal
        if goal is None or not self.query(Approvals):
            return []
        rows = self.query_one(Approvals).rows
        return [r for r in rows if r["goal_id"] == goal["id"] and r["kind"] == "action"]

    # -- approvals ---------------------------------------------------------------------------

    def _approval(self) -> Row | None:
        """The highlighted approval, once the approvals tab is showing (a first press shows it)."""
        tabs = self.query_one(TabbedContent)
        shown = self.query_one("#side").has_class("-current") or not self.has_class("-narrow")
        if tabs.active != "approvals-tab" or not shown:
            self.bring_queue_forward()
            self.notify("Here is the approvals queue: press the key again to decide.")
            return None
        return self.query_one(Approvals).current

    def bring_queue_forward(self) -> None:
        """Show the approvals tab and put the focus in its list, so enter opens the full view."""
        self.query_one(TabbedContent).active = "approvals-tab"
        self.show_pane("side")
        self.call_after_refresh(self.query_one("#approval-list").focus)

    def action_view_approval(self) -> None:
        """The highlighted approval in full, whichever pane has the focus."""
        row = self.query_one(Approvals).current
        if row is None:
            return
        self.bring_queue_forward()
        self.post_message(Approvals.Opened(row))

    def action_approve(self) -> None:
        if row := self._approval():
            self._control(control.approve, row["id"], by="tui")

    def action_run_again(self) -> None:
        if row := self._approval():
            self._control(control.approve, row["id"], choice="run_again", by="tui")

    def action_wait_for_it(self) -> None:
        """An interrupted action whose command still runs: leave the question open until it
        ends (the question then says so); nothing runs twice."""
        if row := self._approval():
            self._control(
                control.approve,
                row["id"],
                choice="wait",
                by="tui",
                done="waiting for its command to end: this question says when it has",
            )

    def action_mark_done(self) -> None:
        if row := self._approval():
            self._control(control.approve, row["id"], choice="mark_done", by="tui")

    def action_skip(self) -> None:
        if row := self._approval():
            self._control(control.approve, row["id"], choice="skip", by="tui")

    def action_always_allow(self) -> None:
        """Show the rule "always allow" would save and what else it allows; save it on yes."""
        row = self._approval()
        if row is None:
            return
        proposal = self._control(control.always_allow_proposal, row["id"])
        if proposal is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._control(
                    control.approve,
                    row["id"],
                    by="tui",
                    always=proposal,
                    done=f"rule saved: {proposal.spec.describe()}",
                )

        detail = (
            f"Rule:  {proposal.spec.describe()}\n"
            f"It also allows: {proposal.description}.\n\n"
            f"#{row['id']} is approved now, and later calls the rule matches run without "
            "asking, in every goal. `agent-tui rules` lists the saved rules; "
            "`agent-tui rules rm ID` removes one."
        )
        self.app.push_screen(ConfirmScreen("Always allow calls like this one?", detail), answered)

    def action_approve_goal(self) -> None:
        """Approve every pending action of the selected goal, after one confirmation."""
        goal, rows = self.goal, self._goal_approvals()
        if goal is None or not rows:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            done = sum(self._control(control.approve, r["id"], by="tui") is not None for r in rows)
            self.notify(f"{done} of {len(rows)} approval(s) of goal {goal['id']} approved")

        listing = "\n".join(f"#{r['id']} {one_line(r['title'], 70)}" for r in rows[:8])
        if len(rows) > 8:
            listing += f"\n… and {len(rows) - 8} more"
        question = (
            f"Approve all {len(rows)} pending action(s) of goal {goal['id']} “{goal['title']}”?"
        )
        self.app.push_screen(ConfirmScreen(question, listing), answered)

    def on_approvals_opened(self, message: Approvals.Opened) -> None:
        """Enter on an approval: the full view, whose keys come back here as actions."""

        def chosen(action: str | None) -> None:
            if action:
                self.call_later(self.run_action, action)

        self.app.push_screen(ApprovalScreen(message.row), chosen)

    def action_reject(self) -> None:
        row = self._approval()
        if row is None:
            return

        def answered(reason: str | None) -> None:
            if reason is not None:
                self._control(control.reject, row["id"], reason=reason, by="tui")

        self.app.push_screen(ReasonScreen(f"Reject #{row['id']}: {row['title']}"), answered)
