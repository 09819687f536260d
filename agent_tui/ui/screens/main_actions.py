"""The main screen's keys: goal control, global switches, approvals, pages, help.

Every binding has an id (remappable through the app's keymap) and appears in the footer and the
command palette. Keys that share a letter (``p`` pause/resume) are two bindings of which
:meth:`MainActions.check_action` enables the one that fits, so the footer names what will happen.
Each action calls one :mod:`agent_tui.core.control` function through
:class:`~agent_tui.ui.screens.approval_actions.ControlActions`, which also holds the approval keys.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import TabbedContent

from agent_tui.core import control
from agent_tui.core.states import GOAL_TERMINAL, GoalStatus, StepStatus
from agent_tui.core.store import panes
from agent_tui.core.store.search import Hit
from agent_tui.ui.screens.approval_actions import ControlActions
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.screens.help import HelpScreen
from agent_tui.ui.screens.undo_actions import UndoActions
from agent_tui.ui.widgets.approvals import Approvals, still_running
from agent_tui.ui.widgets.documents import Documents, export
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.goal_pane import GoalPane
from agent_tui.ui.widgets.step_timeline import StepTimeline
from agent_tui.ui.widgets.tool_output import ToolOutput

PAGES = Binding.Group("Pages", compact=True)
FOCUS_STOPS = ("goal-pane", "steps", "output", "side")
"""Where tab moves the focus, in order: one stop per pane (the middle column has two)."""

BINDINGS: list[BindingType] = [
    Binding("n", "new_goal", "New", tooltip="New goal from a recipe or text", id="new_goal"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="Keys and panes", id="help"),
    Binding("p", "pause_goal", "Pause", tooltip="Pause the selected goal", id="pause_goal"),
    Binding("p", "resume_goal", "Resume", tooltip="Resume the selected goal", id="resume_goal"),
    Binding("c", "cancel_goal", "Cancel", tooltip="Cancel the selected goal", id="cancel_goal"),
    Binding("R", "retry_goal", "Retry", tooltip="Retry failed steps of the goal", id="retry_goal"),
    Binding("a", "approve", "Approve", tooltip="Approve the highlighted approval", id="approve"),
    Binding(
        "a", "run_again", "Run again", tooltip="Run the interrupted action again", id="run_again"
    ),
    Binding(
        "A",
        "always_allow",
        "Always",
        tooltip="Approve and always allow calls like this one (shows the rule first)",
        id="always_allow",
    ),
    Binding(
        "G",
        "approve_goal",
        "Approve goal",
        tooltip="Approve every pending action of the selected goal (asks first)",
        id="approve_goal",
    ),
    Binding("r", "reject", "Reject", tooltip="Reject the highlighted approval", id="reject"),
    Binding(
        "v",
        "view_approval",
        "View",
        tooltip="Show the highlighted approval in full, from any pane",
        id="view_approval",
    ),
    Binding(
        "W",
        "wait_for_it",
        "Wait for it",
        tooltip="Wait for the interrupted action's command, which still runs, to end",
        id="wait_for_it",
    ),
    Binding(
        "d", "mark_done", "Mark done", tooltip="Mark the interrupted action done", id="mark_done"
    ),
    Binding("s", "skip", "Skip", tooltip="Skip the interrupted action's step", id="skip"),
    Binding("P", "pause_all", "Pause all", tooltip="Pause all work (global)", id="pause_all"),
    Binding("P", "resume_all", "Resume all", tooltip="Resume all work (global)", id="resume_all"),
    Binding(
        "D", "dry_run(True)", "Dry run", tooltip="Turn dry run on for all goals", id="dry_run_on"
    ),
    Binding("D", "dry_run(False)", "Dry run off", tooltip="Turn dry run off", id="dry_run_off"),
    Binding(
        "left_square_bracket",
        "page(-1)",
        "Prev",
        key_display="[",
        tooltip="Previous document page",
        id="prev_page",
        group=PAGES,
    ),
    Binding(
        "right_square_bracket",
        "page(1)",
        "Next",
        key_display="]",
        tooltip="Next document page",
        id="next_page",
        group=PAGES,
    ),
    Binding(
        "e", "edit_document", "Editor", tooltip="Open the document page in $EDITOR", id="edit_doc"
    ),
    Binding(
        "E",
        "export_document",
        "Export",
        tooltip="Export the document page to a file in the current directory",
        id="export_doc",
    ),
    Binding("x", "archive", "Archive", tooltip="Archive the finished goal (hide it)", id="archive"),
    Binding(
        "at",
        "schedules",
        "Schedules",
        key_display="@",
        tooltip="Schedules: pause, resume or run one now",
        show=False,
        id="schedules",
    ),
    Binding(
        "u",
        "undo('goal')",
        "Undo",
        tooltip="Undo what the goal changed in its workspace (shown first)",
        id="undo_goal",
    ),
    Binding(
        "U",
        "undo('step')",
        "Undo step",
        tooltip="Undo what the highlighted step changed (shown first)",
        id="undo_step",
    ),
    Binding("f", "follow", "Follow", tooltip="Follow the output on or off", id="follow"),
    Binding("w", "wrap", "Wrap", tooltip="Wrap long output lines on or off", show=False, id="wrap"),
    Binding(
        "dollar_sign",
        "usage",
        "Usage",
        key_display="$",
        tooltip="Cost and tokens per day and per goal, against the daily budget",
        id="usage",
    ),
    Binding(
        "g",
        "gantt",
        "Timeline",
        tooltip="The goal's steps on a time axis: running and waiting",
        id="gantt",
    ),
    Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter the goals", id="filter"),
    Binding(
        "S",
        "search",
        "Search",
        tooltip="Search every goal, output, transcript and document",
        id="search",
    ),
    Binding("o", "sort", "Sort", tooltip="Sort the goals by priority, newest or status", id="sort"),
    Binding("tab", "next_pane(1)", "Next pane", tooltip="Focus the next pane", id="focus_next"),
    Binding(
        "z",
        "maximize_pane",
        "Zoom",
        tooltip="Show the focused pane alone (again: all panes)",
        id="maximize_pane",
    ),
    Binding(
        "shift+tab",
        "next_pane(-1)",
        "Previous pane",
        tooltip="Focus the previous pane",
        show=False,
        id="focus_previous",
    ),
    Binding("ctrl+c,super+c", "screen.copy_text", "Copy", show=False, id="copy_text"),
]


class MainActions(UndoActions, ControlActions, inherit_bindings=False):
    """The actions behind :data:`BINDINGS`; the main screen supplies the state they act on.

    Bindings are not inherited: :data:`BINDINGS` re-declares the screen's own (tab, copy) so the
    footer lists the keys in this order.
    """

    BINDINGS: ClassVar[list[BindingType]] = BINDINGS

    def refresh_goals(self, ids: set[int] | None = None) -> None:
        raise NotImplementedError

    def refresh_goal(self, *, documents_too: bool = False) -> None:
        raise NotImplementedError

    # -- which keys apply now ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        goal = self.goal
        status = goal["status"] if goal else None
        try:
            approval = self.query_one(Approvals).current  # query_one is cached; query is a walk
        except NoMatches:
            approval = None
        checks: dict[str, Callable[[], bool]] = {
            "pause_goal": lambda: status is not None and status not in (*GOAL_TERMINAL, "paused"),
            "resume_goal": lambda: status == GoalStatus.PAUSED,
            "cancel_goal": lambda: status is not None and status not in GOAL_TERMINAL,
            "retry_goal": lambda: status is not None and self._has_failed_steps(),
            "approve": lambda: approval is not None and approval["kind"] != "unknown",
            "run_again": lambda: (
                approval is not None
                and approval["kind"] == "unknown"
                and not still_running(approval)
            ),
            "wait_for_it": lambda: approval is not None and still_running(approval),
            "reject": lambda: approval is not None,
            "view_approval": lambda: approval is not None,
            "gantt": lambda: goal is not None,
            "always_allow": lambda: approval is not None and approval["kind"] == "action",
            "approve_goal": lambda: bool(self._goal_approvals()),
            "mark_done": lambda: approval is not None and approval["kind"] == "unknown",
            "skip": lambda: approval is not None and approval["kind"] == "unknown",
            "pause_all": lambda: not self.overview.paused,
            "resume_all": lambda: self.overview.paused,
            "dry_run": lambda: self.overview.dry_run != parameters[0],
            "page": lambda: bool(self.query_one(Documents).pages),
            "edit_document": lambda: bool(self.query_one(Documents).pages),
            "export_document": lambda: bool(self.query_one(Documents).pages),
            "archive": lambda: status in GOAL_TERMINAL,
            "undo": lambda: goal is not None and self._can_undo(str(parameters[0])),
        }
        check = checks.get(action)
        return check() if check is not None else True

    def _can_undo(self, scope: str) -> bool:
        """Something changed and nothing runs: the goal's files, or the highlighted step's."""
        goal = self.goal
        if goal is None or (goal.files_changed == 0 and scope == "goal"):
            return False
        timeline = self.query_one(StepTimeline)
        if any(s["status"] == StepStatus.RUNNING for s in timeline.steps):
            return False
        if scope == "step":
            step = timeline.step(timeline.step_id)
            return step is not None and bool(step.get("files_changed"))
        return True

    def _has_failed_steps(self) -> bool:
        rows = self.query_one(StepTimeline).steps
        return any(r["status"] in (StepStatus.FAILED, StepStatus.CANCELLED) for r in rows)

    # -- goals -------------------------------------------------------------------------------

    def action_new_goal(self) -> None:
        from agent_tui.ui.screens.new_goal import NewGoalScreen  # not needed for the first frame

        def added(goal_id: int | None) -> None:
            if goal_id is not None:
                self.refresh_goals({goal_id})
                self.query_one(GoalList).select_goal(goal_id)

        self.app.push_screen(NewGoalScreen(self.store, self.settings), added)

    def action_pause_goal(self) -> None:
        if (goal := self.goal) is None:
            return
        running = self._control(control.pause_goal, goal["id"])
        if running:
            self.notify(
                f"goal {goal['id']} paused: no new step starts; {running} running step(s) "
                "finish (c cancels them)",
                markup=False,
            )
        elif running is not None:
            self.notify(f"goal {goal['id']} paused: no new step starts", markup=False)

    def action_resume_goal(self) -> None:
        if goal := self.goal:
            self._control(control.resume_goal, goal["id"])

    def action_cancel_goal(self) -> None:
        goal = self.goal
        if goal is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._control(control.cancel_goal, goal["id"], done=f"goal {goal['id']} cancelled")

        question = f"Cancel goal {goal['id']} “{goal['title']}”?"
        detail = "Its open steps are cancelled and running commands are killed."
        self.app.push_screen(ConfirmScreen(question, detail), answered)

    def action_retry_goal(self) -> None:
        if goal := self.goal:
            count = self._control(control.retry, goal["id"])
            if count:
                self.notify(f"{count} step(s) of goal {goal['id']} will run again")

    def action_archive(self) -> None:
        goal = self.goal
        if goal is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self._control(control.archive_goal, goal.id, done=f"goal {goal.id} archived")
            self.refresh_goals({goal.id})

        question = f"Archive goal {goal.id} “{goal.title}”?"
        detail = "It leaves the list; its steps, output and documents stay in the database."
        self.app.push_screen(ConfirmScreen(question, detail), answered)

    # -- global switches ---------------------------------------------------------------------

    def action_pause_all(self) -> None:
        self._control(control.set_global_pause, True, done="all work paused")

    def action_resume_all(self) -> None:
        self._control(control.set_global_pause, False, done="work resumed")

    def action_dry_run(self, on: bool) -> None:
        self._control(control.set_global_dry_run, on, done=f"dry run {'on' if on else 'off'}")

    # -- panes -------------------------------------------------------------------------------

    def action_page(self, delta: int) -> None:
        tabs = self.query_one(TabbedContent)
        shown = self.query_one("#side").has_class("-current") or not self.has_class("-narrow")
        if tabs.active != "documents-tab" or not shown:
            tabs.active = "documents-tab"
            self.show_pane("side")
            return
        self.query_one(Documents).turn(delta)

    def action_edit_document(self) -> None:
        """Open a copy of the page in $VISUAL or $EDITOR, with the app suspended meanwhile."""
        doc = self.query_one(Documents).current
        if doc is None:
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify(
                "set $EDITOR (for example: export EDITOR=nano) to open documents",
                severity="warning",
            )
            return
        folder = Path(tempfile.mkdtemp(prefix="agent-tui-doc-"))
        path = export(doc, folder)
        original = path.read_bytes()
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
        except (OSError, SuspendNotSupported) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.notify(f"cannot open {editor}: {exc}", severity="error", markup=False)
            return
        finally:
            self.app.refresh()
        if path.exists() and path.read_bytes() != original:
            self.notify(f"the copy was edited; the edits are in {path}", markup=False)
        else:  # nothing to keep: leave no folder behind
            shutil.rmtree(folder, ignore_errors=True)

    def action_export_document(self) -> None:
        doc = self.query_one(Documents).current
        if doc is None:
            return
        try:
            path = export(doc, Path.cwd())
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error", markup=False)
            return
        self.notify(f"exported to {path}", markup=False)

    def action_filter(self) -> None:
        self.query_one(GoalPane).open_filter()

    def action_search(self) -> None:
        """Full-text search; the chosen hit's goal (and step) is selected."""
        from agent_tui.ui.screens.search import SearchScreen

        def chosen(hit: Hit | None) -> None:
            if hit is None:
                return
            goals = self.query_one(GoalList)
            if goals.row(hit.goal_id) is None:
                self.notify(f"goal {hit.goal_id} is archived: `agent-tui show {hit.goal_id}`")
                return
            goals.select_goal(hit.goal_id)
            self.refresh_goal(documents_too=True)  # now, not when the message arrives
            if hit.kind == "output":
                self._select_step_of_action(hit.ref_id)
            elif hit.kind == "document":
                self.query_one(TabbedContent).active = "documents-tab"

        self.app.push_screen(SearchScreen(self.store.address, self.settings), chosen)

    def _select_step_of_action(self, action_id: int) -> None:
        step_id = panes.step_of_action(self.store, action_id)
        timeline = self.query_one(StepTimeline)
        ids = [s["id"] for s in timeline.steps]
        if step_id is not None and step_id in ids:
            timeline.move_cursor(row=ids.index(step_id))

    def action_sort(self) -> None:
        mode = self.query_one(GoalPane).cycle_sort()
        self.notify(f"goals sorted by {mode}")

    def _stop_of_focus(self) -> str:
        """The focus stop (goals, steps, output, side) that holds the focus."""
        node = self.focused
        while node is not None:
            if node.id in FOCUS_STOPS:
                return str(node.id)
            node = node.parent  # type: ignore[assignment]
        return FOCUS_STOPS[0]

    def _focus_stop(self, stop: str) -> None:
        """Focus into a stop: the side pane's list of its active tab, else its first focusable."""
        if stop == "side" and self.query_one(TabbedContent).active == "approvals-tab":
            self.query_one("#approval-list").focus()
            return
        node = self.query_one(f"#{stop}")
        if node.focusable:
            node.focus()
        else:
            self._focus_in(stop)

    def action_next_pane(self, delta: int) -> None:
        """Focus the next pane (goals, steps, output, the side pane); in a narrow terminal, show
        it too (only one pane is shown there)."""
        if not self.has_class("-narrow"):
            stops = list(FOCUS_STOPS)
            index = stops.index(self._stop_of_focus())
            self._focus_stop(stops[(index + delta) % len(stops)])
            return
        panes = ["goal-pane", "middle", "side"]
        current = next(
            (p for p in panes if self.query_one(f"#{p}").has_class("-current")), panes[0]
        )
        self.show_pane(panes[(panes.index(current) + delta) % len(panes)])

    def _focus_in(self, pane_id: str) -> None:
        for widget in self.query_one(f"#{pane_id}").query("*"):
            if widget.focusable:
                widget.focus()
                return

    def action_gantt(self) -> None:
        """The selected goal's timeline chart (live while the goal runs)."""
        from agent_tui.ui.screens.gantt import GanttScreen

        if (goal := self.goal) is not None:
            self.app.push_screen(GanttScreen(self.store, goal["id"], goal["title"]))

    def action_usage(self) -> None:
        """Cost and tokens per day and per goal, and today's spend against the budget."""
        from agent_tui.ui.screens.usage import UsageScreen

        self.app.push_screen(UsageScreen(self.store, self.settings))

    def action_maximize_pane(self) -> None:
        """Show the pane with the focus alone, filling the screen; again: every pane."""
        if self.maximized is not None:
            self.minimize()
            return
        stop = self._stop_of_focus()
        self.maximized = self.query_one(f"#{stop}")

    def action_wrap(self) -> None:
        self.query_one(ToolOutput).toggle_wrap()

    def action_follow(self) -> None:
        # No toast: it would cover the pane's subtitle, which already says "following" or not.
        self.query_one(ToolOutput).toggle_follow()

    def action_schedules(self) -> None:
        from agent_tui.ui.screens.schedules import SchedulesScreen  # not needed for the first frame

        self.app.push_screen(SchedulesScreen(self.store, self.settings))

    def _key_names(self, binding: Binding) -> str:
        """Each key of a binding as the footer shows it (``ctrl+c,super+c`` is ``^c, super+c``),
        after the user's ``[keys]``."""
        remapped = self.app._keymap.get(binding.id or "")
        if binding.key_display and not remapped:
            return binding.key_display
        return ", ".join(
            self.app.get_key_display(Binding(key.strip(), binding.action))
            for key in (remapped or binding.key).split(",")
        )

    def action_help(self) -> None:
        keys: dict[str, list[str]] = {}
        for binding in [*self.BINDINGS, *self.app.BINDINGS]:
            if isinstance(binding, Binding) and binding.description:
                keys.setdefault(self._key_names(binding), []).append(
                    binding.tooltip or binding.description
                )
        self.app.push_screen(HelpScreen([(k, " / ".join(v)) for k, v in keys.items()]))
