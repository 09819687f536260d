"""The schedules: each cron schedule with its recipe, next and last run, failure streak and state.

``p`` pauses or resumes the highlighted schedule, ``r`` runs it now, ``escape`` goes back. The same
core functions back ``agent-tui schedules --pause/--resume/--run-now``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from agent_tui.config import Settings
from agent_tui.core import schedules
from agent_tui.core.store import Row, Store
from agent_tui.core.store import schedules as stored_schedules
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.writes import Deferred, write_from

COLUMNS = ("id", "title", "cron", "state", "next run", "last run", "streak", "recipe")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


class SchedulesScreen(SurvivesAway, ModalScreen[None]):
    """Every schedule; keys act on the highlighted one."""

    CSS_PATH = "schedules.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="schedules_close"),
        Binding("p", "pause_or_resume", "Pause/resume", id="schedules_toggle"),
        Binding("r", "run_now", "Run now", id="schedules_run_now"),
    ]

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.rows: Sequence[Row] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="schedules-box"):
            yield Static("Schedules", id="schedules-title")
            yield DataTable(id="schedules-table", cursor_type="row", zebra_stripes=False)
            yield Static("p: pause or resume · r: run now · escape: back", id="schedules-keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.reload()
        table.focus()

    def reload(self) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        self.rows = stored_schedules.listing(self.store)
        for row in self.rows:
            state = "active" if row["enabled"] else "paused"
            last = _when(row["last_run_at"])
            if row["last_status"]:
                last += f" ({row['last_status']})"
            table.add_row(
                Text(str(row["id"])),
                Text(row["title"] or ""),
                Text(row["cron"]),
                Text(state),
                Text(_when(row["next_run_at"]) if row["enabled"] else "-"),
                Text(last),
                Text(str(row["failure_streak"] or 0)),
                Text(row["recipe_path"] or "(as added)"),
                key=str(row["id"]),
            )
        if not self.rows:
            self.query_one("#schedules-title", Static).update(
                "Schedules: none yet (add one: agent-tui add --recipe FILE --schedule CRON)"
            )
        elif keep < len(self.rows):
            table.move_cursor(row=keep)

    @property
    def current(self) -> Row | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_close(self) -> None:
        self.dismiss(None)

    def action_pause_or_resume(self) -> None:
        row = self.current
        if row is None:
            return

        def paused(_: object) -> None:
            self.notify(f"schedule {row['id']} paused")
            self.reload()

        def resumed(upcoming: float | None) -> None:
            self.notify(f"schedule {row['id']} resumed; next run {_when(upcoming)}")
            self.reload()

        try:
            if row["enabled"]:
                self._write(schedules.pause, row["id"], what="pause the schedule", then=paused)
            else:
                self._write(schedules.resume, row["id"], what="resume the schedule", then=resumed)
        except schedules.ScheduleError as exc:
            self.notify(str(exc), severity="error", markup=False)
            self.reload()

    def _write(
        self,
        fn: Callable[..., Any],
        *args: Any,
        what: str,
        then: Callable[[Any], None],
        **kwargs: Any,
    ) -> None:
        """Through the app's writes (never waiting on the loop); ``then`` gets the result, now
        or once the database is free."""
        result = write_from(self, self.store, fn, *args, what=what, then=then, **kwargs)
        if not isinstance(result, Deferred):
            then(result)

    def action_run_now(self) -> None:
        row = self.current
        if row is None:
            return

        def started(goal_id: int) -> None:
            self.notify(f"schedule {row['id']} started goal {goal_id}")
            self.reload()

        try:
            self._write(
                schedules.run_now,
                row["id"],
                what="run the schedule now",
                then=started,
                max_attempts=self.settings.retry.max_attempts,
            )
        except schedules.ScheduleError as exc:
            self.notify(str(exc), severity="error", markup=False)
