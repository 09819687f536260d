"""Full-text search over every goal, step output, transcript and document (``S``).

The words typed are searched as ``agent-tui search`` does (:mod:`agent_tui.core.store.search`), newest
hits first. The search runs in a thread on its own database connection: the first one indexes
what was never indexed, which on a large database takes seconds and must not freeze the screen.
Enter on a hit closes the dialog and selects its goal (and, for an output, its step).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agent_tui.config import Settings
from agent_tui.core.store import open_store
from agent_tui.core.store.search import Hit, SearchError, search
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.worker_errors import ReportsWorkerErrors

LIMIT = 50


class SearchScreen(SurvivesAway, ReportsWorkerErrors, ModalScreen[Hit | None]):
    """Returns the chosen hit, or ``None`` when closed."""

    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="search_close"),
        Binding("down", "results", "Results", show=False, id="search_results"),
    ]

    def __init__(self, db_path: Path | str, settings: Settings) -> None:
        super().__init__()
        self.db_path = db_path
        self.settings = settings
        self.hits: list[Hit] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search"):
            yield Static("Search goals, outputs, transcripts and documents", id="search-title")
            yield Input(placeholder="words; the last one may be cut short", id="search-input")
            yield Static("", id="search-status", markup=False)
            yield OptionList(id="search-hits")
            yield Static(
                "enter: search, then ↓ and enter to open a hit · escape: close", id="search-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text:
            self.query_one("#search-status", Static).update("searching…")
            self.run_search(text)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, text: str) -> None:
        store = open_store(self.settings, self.db_path)  # the thread's own connection
        try:
            hits: list[Hit] | str = search(store, text, limit=LIMIT)
        except SearchError as exc:
            hits = str(exc)
        finally:
            store.close()
        self.app.call_from_thread(self.show_hits, text, hits)

    def show_hits(self, text: str, hits: list[Hit] | str) -> None:
        status = self.query_one("#search-status", Static)
        results = self.query_one("#search-hits", OptionList)
        results.clear_options()
        if isinstance(hits, str):
            status.update(hits)
            return
        self.hits = hits
        more = f" (the newest {LIMIT})" if len(hits) == LIMIT else ""
        status.update(
            f"{len(hits)} hit(s) for “{text}”{more}" if hits else f"nothing matches “{text}”"
        )
        results.add_options(Option(_prompt(hit), id=str(n)) for n, hit in enumerate(hits))
        if hits:
            results.highlighted = 0

    def action_results(self) -> None:
        results = self.query_one("#search-hits", OptionList)
        if self.hits:
            results.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss(self.hits[int(event.option.id)])

    def action_close(self) -> None:
        self.dismiss(None)


def _prompt(hit: Hit) -> Content:
    return Content.assemble(
        (f"{hit.kind:<8} ", "$text-accent"),
        (f"#{hit.goal_id} {hit.goal_title[:40]}", "bold"),
        (f"  {hit.title[:24]}\n", "$text-muted"),
        ("   " + hit.snippet[:200], ""),
    )
