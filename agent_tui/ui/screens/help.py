"""The help screen: what each pane shows and every key, read from the bindings themselves."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = "\n".join(
    (
        "Goals (left): status, #id, title, progress, priority and, for goals that called a "
        'model, cost ("?": a cost unknown). / filters by status (a prefix: fail), #id or title '
        "(its letters in order: wkrpt); o sorts by priority, newest or status.",
        "Steps (middle): the highlighted goal's plan. Output below follows the highlighted "
        "step, or shows an agent step's conversation with the model; f turns following on "
        "and off.",
        "Approvals (right): everything that waits for a decision, across goals, with exactly "
        "what would run; v (or enter in the queue) shows one in full. Documents (right, second "
        "tab): one page per document.",
        "tab goes to the next pane (in a narrow terminal only one shows); z shows the focused "
        "pane alone.",
        "",
        "Status: ✓ completed  ✗ failed  ▶ running  … waiting  ↻ retry  ‖ paused  · queued  "
        "⊘ cancelled",
        "T switches the theme (user themes: *.toml in the themes folder, `agent-tui locate "
        "themes`). The command palette (ctrl+p) lists every action too.",
    )
)


class HelpScreen(ModalScreen[None]):
    """Lists ``(key, description)`` pairs; any of escape, ? or q closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help_close"),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.keys), default=1) + 2
        lines = [
            Content.assemble((key.ljust(width), "bold $text-accent"), description)
            for key, description in self.keys
        ]
        with Vertical(id="help"):
            yield Static("agent-tui help", id="help-title")
            with VerticalScroll():
                yield Static(INTRO, id="help-intro", markup=False)
                yield Static(Content("\n").join(lines), id="help-keys")
            yield Static("escape, ? or q closes this", id="help-close")

    def action_close(self) -> None:
        self.dismiss(None)
