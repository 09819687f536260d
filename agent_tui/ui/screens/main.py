"""The main screen: status line, goals, steps with their output, approvals and documents.

It owns the selection (goal, step) and turns the bridge's messages into pane refreshes: each
pane is handed fresh rows from :mod:`agent_tui.core.store.panes` and updates itself in place. The keys
that change things live in :mod:`agent_tui.ui.screens.main_actions`.
"""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import DescendantFocus, Resize
from textual.widgets import Footer, Static, TabbedContent, TabPane

from agent_tui.config import Settings
from agent_tui.core.sandbox.wrap import status_for
from agent_tui.core.store import Event, Store
from agent_tui.core.store.panes import GoalRow, Overview, documents, goal_rows, overview, step_rows
from agent_tui.core.store.readiness import placement_waits
from agent_tui.core.store.views import pending_approvals
from agent_tui.ui import notify
from agent_tui.ui.messages import EventsArrived, OutputArrived, StoreChanged
from agent_tui.ui.screens.main_actions import MainActions
from agent_tui.ui.widgets.approvals import Approvals
from agent_tui.ui.widgets.documents import Documents
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.goal_pane import GoalPane
from agent_tui.ui.widgets.status_line import StatusLine
from agent_tui.ui.widgets.step_timeline import StepTimeline
from agent_tui.ui.widgets.tool_output import ToolOutput

NO_MODEL = (
    'No model configured: set AGENT_TUI_MODEL or model = "..." in config.toml. '
    "Recipes run without one."
)
CONVERSATIONS = frozenset({"agent", "plan"})
"""Step kinds whose output pane shows the model conversation instead of one action's output."""
NARROW_WIDTH = 100
"""Below this many columns the panes are shown one at a time."""
PANES = ("goal-pane", "middle", "side")
PARTIAL_LIMIT = 500
"""More changed goals than this in one batch: reload the list instead of goal by goal."""
ANNOUNCED = frozenset({"approval.requested", "goal.completed", "goal.failed", "executor.error"})


ANNOUNCED_MEMORY = 1000
"""How many announced event ids are remembered to toast each event once."""


class MainScreen(MainActions):
    """Everything at once; refreshed from the database whenever the bridge reports a change."""

    CSS_PATH = "main.tcss"

    def __init__(self, store: Store, settings: Settings, *, executor: bool) -> None:
        super().__init__(id="main")
        self.store = store
        self.settings = settings
        self.executor = executor
        self.overview = Overview(paused=False, dry_run=False, approvals=0)
        self._shown_goal: int | None = None
        """The goal whose steps and documents were last loaded in full."""
        self._db_waiting: str | None = None
        self._db_away: str | None = None
        """"waiting for the database …" while this process waits for another's write lock."""
        self.terminal_notices: deque[str] = deque(maxlen=20)
        """The last desktop notifications sent to the terminal (escape sequences)."""
        self._announced: deque[int] = deque(maxlen=ANNOUNCED_MEMORY)
        """Ids of events already toasted: the executor's push and the database watcher may
        both deliver the same event, and it must toast once."""

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        if not self.settings.model:
            yield Static(NO_MODEL, id="banner", markup=False)
        yield Static("", id="pane-strip")
        with Horizontal(id="body"):
            yield GoalPane(id="goal-pane")
            with Vertical(id="middle"):
                yield StepTimeline(id="steps", clock=self.store.clock)
                yield ToolOutput(id="output")
            with TabbedContent(id="side"):
                with TabPane("Approvals", id="approvals-tab"):
                    yield Approvals(id="approvals")
                with TabPane("Documents", id="documents-tab"):
                    yield Documents(id="documents")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(StepTimeline).border_title = "Steps"
        self.query_one(ToolOutput).border_title = "Output"
        self.query_one("#goal-pane").add_class("-current")
        self.refresh_all()

    # -- small terminals: one pane at a time ------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.describe_panes()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """In a narrow terminal, the pane holding the focus is the one shown."""
        node = event.widget
        while node is not None and node.id not in PANES:
            node = node.parent  # type: ignore[assignment]
        if node is None or node.has_class("-current"):
            return
        for pane in self.query(",".join(f"#{p}" for p in PANES)):
            pane.set_class(pane is node, "-current")
        self.describe_panes()

    def show_pane(self, pane_id: str) -> None:
        """Bring a pane forward (narrow terminals show one) and focus into it."""
        if self.has_class("-narrow") and not self.query_one(f"#{pane_id}").has_class("-current"):
            for pane in PANES:
                self.query_one(f"#{pane}").set_class(pane == pane_id, "-current")
            self.describe_panes()
            self.call_after_refresh(self._focus_in, pane_id)

    def describe_panes(self) -> None:
        """The strip above the panes in a narrow terminal: which pane is shown, tab for the next."""
        if not self.has_class("-narrow"):
            return
        approvals = self.overview.approvals
        names = {"goal-pane": "Goals", "middle": "Steps · Output", "side": "Approvals · Documents"}
        if approvals:
            names["side"] = f"Approvals {approvals} · Documents"
        parts: list[Content | str] = []
        for pane_id, name in names.items():
            current = self.query_one(f"#{pane_id}").has_class("-current")
            parts.append(Content.styled(f" {name} ", "reverse bold") if current else f" {name} ")
        parts.append(Content.styled("  tab: next pane", "$text-muted"))
        self.query_one("#pane-strip", Static).update(Content.assemble(*parts))

    # -- panes -------------------------------------------------------------------------------

    @property
    def goal_id(self) -> int | None:
        return self.query_one(GoalList).goal_id

    @property
    def goal(self) -> GoalRow | None:
        goal_id = self.goal_id
        return self.query_one(GoalList).row(goal_id) if goal_id is not None else None

    def refresh_all(self) -> None:
        """Read everything the screen shows from the database."""
        self.refresh_goals()
        self.refresh_goal(documents_too=True)
        self.refresh_approvals()

    def refresh_goals(self, ids: set[int] | None = None) -> None:
        """Re-read ``ids`` (every goal when ``None`` or when too many changed at once).

        Every goal is read from the goals table alone; the list asks for the step counts and
        costs of the rows it draws (:class:`GoalList.CountsWanted`), so the cost follows what is
        on screen, not the history.
        """
        goals = self.query_one(GoalList)
        if ids is None or len(ids) > PARTIAL_LIMIT or not goals.loaded:
            goals.show(goal_rows(self.store, counts=False))
        elif ids:
            goals.update(ids, goal_rows(self.store, ids))
        self.query_one(GoalPane).describe()

    def refresh_goal(self, *, documents_too: bool = False) -> None:
        """Reload the selected goal's steps (and documents) and catch the output pane up."""
        goal_id = self.goal_id
        if documents_too:
            self._shown_goal = goal_id
        timeline = self.query_one(StepTimeline)
        timeline.show(step_rows(self.store, goal_id) if goal_id is not None else [])
        goal = self.goal
        timeline.border_title = f"Steps · {goal['title']}" if goal else "Steps"
        timeline.border_subtitle = self._goal_note(goal)
        if documents_too:
            docs = documents(self.store, goal_id) if goal_id is not None else []
            self.query_one(Documents).show(docs)
            tab = self.query_one(TabbedContent).get_tab("documents-tab")
            tab.label = f"Documents {len(docs)}" if docs else "Documents"
        self.refresh_output()

    def _goal_note(self, goal: GoalRow | None) -> str:
        """Why the selected goal waits: its own message, or that no live worker may take it."""
        if goal is None:
            return ""
        if goal.status_message:
            return goal.status_message
        return placement_waits(self.store, goal.id).get(goal.id, "")

    def refresh_output(self) -> None:
        """Show the highlighted step's latest action, or append what it stored since."""
        timeline = self.query_one(StepTimeline)
        step = timeline.step(timeline.step_id)
        output = self.query_one(ToolOutput)
        if step is not None and step["kind"] in CONVERSATIONS:
            if output.transcript_step != step["id"]:
                output.show_transcript(self.store, step["id"], step["key"])
            else:
                output.sync(self.store)
            return
        action_id = step["action_id"] if step else None
        if step is None or action_id != output.action_id or output.transcript_step is not None:
            output.show_action(self.store, action_id, step["key"] if step else "")
        else:
            output.sync(self.store)

    def refresh_approvals(self) -> None:
        rows = pending_approvals(self.store)
        self.query_one(Approvals).show(rows)
        tab = self.query_one(TabbedContent).get_tab("approvals-tab")
        tab.label = f"Approvals {len(rows)}" if rows else "Approvals"
        self.refresh_status()

    def refresh_status(self) -> None:
        self.overview = overview(self.store)
        self._show_status()

    def _show_status(self) -> None:
        model = self.settings.model
        executor = getattr(self.app, "executor", None)
        if model is None and executor is not None and executor.model is not None:
            model = executor.model.model
        if model and self.query("#banner"):
            self.query_one("#banner").display = False
        sandbox = status_for(self.settings)
        self.query_one(StatusLine).show(
            model=model,
            executor=self.executor,
            overview=self.overview,
            sandbox=None if sandbox.active else sandbox.label,
            waiting=self._db_away or self._db_waiting,
        )
        self.describe_panes()
        self.refresh_bindings()

    def database_away(self, away: bool) -> None:
        """Say in the header that the database server cannot be reached (or can again); the
        header is redrawn from what was read last, not read again."""
        self._db_away = "the database server is away: trying again" if away else None
        if self.is_mounted:
            self._show_status()

    def database_waiting(self, waiting: bool, holders: list[int]) -> None:
        """Say in the header that this process waits for another's write lock (or no longer)."""
        if not waiting:
            self._db_waiting = None
        else:
            who = f" (held by pid {', '.join(map(str, holders))})" if holders else ""
            self._db_waiting = f"waiting for the database{who}"
        if self.is_mounted:
            self.refresh_status()

    def welcomed(self, goal_id: int | None, *, new_goal: bool = False) -> None:
        """The welcome closed: show the example it started, or open the new-goal dialog."""
        if goal_id is not None:
            self.refresh_goals({goal_id})
            self.query_one(GoalList).select_goal(goal_id)
        elif new_goal:
            self.action_new_goal()

    # -- messages from the bridge and the panes ----------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        events = message.events
        self.refresh_goals({e.goal_id for e in events if e.goal_id is not None})
        goal_id = self.goal_id
        if any(e.goal_id == goal_id for e in events):
            saved = any(e.kind == "artifact.saved" and e.goal_id == goal_id for e in events)
            self.refresh_goal(documents_too=saved)
        self.refresh_approvals()
        self.announce(events)

    def on_output_arrived(self, message: OutputArrived) -> None:
        output = self.query_one(ToolOutput)
        for segment in message.segments:
            output.add_segment(segment)

    def on_store_changed(self, message: StoreChanged) -> None:
        self.query_one(ToolOutput).sync(self.store)

    def on_goal_list_counts_wanted(self, message: GoalList.CountsWanted) -> None:
        self.query_one(GoalList).update(message.ids, goal_rows(self.store, message.ids))

    def on_goal_list_highlighted(self, message: GoalList.Highlighted) -> None:
        if message.goal_id != self._shown_goal:
            self.refresh_goal(documents_too=True)
            self.refresh_bindings()

    def on_step_timeline_highlighted(self, message: StepTimeline.Highlighted) -> None:
        self.refresh_output()

    def announce(self, events: list[Event]) -> None:
        """A toast for each approval requested, goal finished and executor error; one bell."""
        notable = []
        for event in events:
            if event.kind in ANNOUNCED and event.id not in self._announced:
                self._announced.append(event.id)
                notable.append(event)
        asks = [e for e in notable if e.kind == "approval.requested"]
        if len(asks) > 3:
            self.notify(f"{len(asks)} approvals wait for a decision", severity="warning")
            notable = [e for e in notable if e.kind != "approval.requested"]
        goals = self.query_one(GoalList)
        for event in notable:
            goal = goals.row(event.goal_id) if event.goal_id is not None else None
            name = goal["title"] if goal else f"goal {event.goal_id}"
            if event.kind == "approval.requested":
                self.notify(
                    event.message,
                    title=f"approval needed · {name}",
                    severity="warning",
                    markup=False,
                )
            elif event.kind == "goal.completed":
                self.notify(name, title="goal completed", markup=False)
            elif event.kind == "goal.failed":
                self.notify(
                    event.message, title=f"goal failed · {name}", severity="error", markup=False
                )
            else:
                self.notify(event.message, title="executor error", severity="error", markup=False)
        if asks or any(e.kind in ("goal.completed", "goal.failed") for e in notable):
            self.app.bell()
        self._notify_desktop(notable)

    def _notify_desktop(self, events: list[Event]) -> None:
        """One terminal notification (OSC 9 or 777) for a batch of notable events."""
        kind = notify.choose(self.settings.notify.terminal)
        if kind == "off" or not events:
            return
        goals = self.query_one(GoalList)
        first = events[0]
        goal = goals.row(first.goal_id) if first.goal_id is not None else None
        title = f"agent-tui · {goal['title']}" if goal else "agent-tui"
        body = first.message if len(events) == 1 else f"{first.message} (+{len(events) - 1} more)"
        text = notify.sequence(kind, title, body)
        self.terminal_notices.append(text)
        driver = self.app._driver
        if driver is not None:
            driver.write(text)
            driver.flush()
