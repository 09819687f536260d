"""The main screen: status line, goals, steps with their output, approvals and documents.

It owns the selection (goal, step) and turns the bridge's messages into pane refreshes: each
pane is handed fresh rows from :mod:`agent_tui.ui.queries` and updates itself in place. The keys
that change things live in :mod:`agent_tui.ui.screens.main_actions`.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static, TabbedContent, TabPane

from agent_tui.config import Settings
from agent_tui.core.store import Event, Store
from agent_tui.core.views import pending_approvals
from agent_tui.ui.messages import EventsArrived, OutputArrived, StoreChanged
from agent_tui.ui.queries import GoalRow, Overview, documents, goal_rows, overview, step_rows
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
PARTIAL_LIMIT = 500
"""More changed goals than this in one batch: reload the list instead of goal by goal."""
ANNOUNCED = frozenset({"approval.requested", "goal.completed", "goal.failed", "executor.error"})


class MainScreen(MainActions):
    """Everything at once; refreshed from the database whenever the bridge reports a change."""

    CSS_PATH = "main.tcss"

    def __init__(self, store: Store, settings: Settings, *, executor: bool) -> None:
        super().__init__(id="main")
        self.store = store
        self.settings = settings
        self.executor = executor
        self.overview = Overview(paused=False, dry_run=False, approvals=0)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        if not self.settings.model:
            yield Static(NO_MODEL, id="banner", markup=False)
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
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StepTimeline).border_title = "Steps"
        self.query_one(ToolOutput).border_title = "Output"
        self.refresh_all()

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
        """Re-read ``ids`` (every goal when ``None`` or when too many changed at once)."""
        goals = self.query_one(GoalList)
        if ids is None or len(ids) > PARTIAL_LIMIT or not goals.loaded:
            goals.show(goal_rows(self.store))
        elif ids:
            goals.update(ids, goal_rows(self.store, ids))
        self.query_one(GoalPane).describe()

    def refresh_goal(self, *, documents_too: bool = False) -> None:
        """Reload the selected goal's steps (and documents) and catch the output pane up."""
        goal_id = self.goal_id
        timeline = self.query_one(StepTimeline)
        timeline.show(step_rows(self.store, goal_id) if goal_id is not None else [])
        goal = self.goal
        timeline.border_title = f"Steps · {goal['title']}" if goal else "Steps"
        timeline.border_subtitle = (goal["status_message"] or "") if goal else ""
        if documents_too:
            docs = documents(self.store, goal_id) if goal_id is not None else []
            self.query_one(Documents).show(docs)
            tab = self.query_one(TabbedContent).get_tab("documents-tab")
            tab.label = f"Documents {len(docs)}" if docs else "Documents"
        self.refresh_output()

    def refresh_output(self) -> None:
        """Show the highlighted step's latest action, or append what it stored since."""
        timeline = self.query_one(StepTimeline)
        step = timeline.step(timeline.step_id)
        output = self.query_one(ToolOutput)
        action_id = step["action_id"] if step else None
        if step is None or action_id != output.action_id:
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
        self.query_one(StatusLine).show(
            model=self.settings.model, executor=self.executor, overview=self.overview
        )
        self.refresh_bindings()

    def welcomed(self, goal_id: int | None, *, new_goal: bool = False) -> None:
        """The welcome closed: show the example it started, or open the new-goal dialog."""
        if goal_id is not None:
            self.refresh_goals()
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

    def on_goal_list_highlighted(self, message: GoalList.Highlighted) -> None:
        self.refresh_goal(documents_too=True)
        self.refresh_bindings()

    def on_step_timeline_highlighted(self, message: StepTimeline.Highlighted) -> None:
        self.refresh_output()

    def announce(self, events: list[Event]) -> None:
        """A toast for each approval requested, goal finished and executor error; one bell."""
        notable = [e for e in events if e.kind in ANNOUNCED]
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
