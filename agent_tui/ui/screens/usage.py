"""Cost and tokens per day and per goal, and today's spend against the daily budget (``$``).

The same read models and bars as ``agent-tui usage`` (:mod:`agent_tui.core.spend`), drawn with
the theme's colours; re-read each time the view opens.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from agent_tui.config import Settings
from agent_tui.core import spend
from agent_tui.core.store import Store
from agent_tui.ui.away import SurvivesAway

DAYS = 14


def _section(title: str, lines: list[str]) -> Content:
    parts: list[Content | tuple[str, str] | str] = [(title + "\n", "bold")]
    for line in lines:
        parts += [_colour_bars(line), "\n"]
    return Content.assemble(*parts)


def _colour_bars(line: str) -> Content:
    """The bar characters of a chart line in the accent colour, the rest as is."""
    bars = set(spend.BAR + spend.PARTS.strip())
    parts: list[tuple[str, str] | str] = []
    for char in line:
        parts.append((char, "$text-accent") if char in bars else char)
    return Content.assemble(*parts)


class UsageScreen(SurvivesAway, ModalScreen[None]):
    """Usage charts; escape, $ or q closes them."""

    CSS_PATH = "usage.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,dollar_sign,q", "close", "Close", id="usage_close"),
    ]

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="usage"):
            yield Static("Cost and usage", id="usage-title")
            with VerticalScroll(id="usage-scroll"):
                yield Static(self._body(), id="usage-body")
            yield Static("escape or $ closes · agent-tui usage prints the same", id="usage-keys")

    def _body(self) -> Content:
        days = spend.by_day(self.store, DAYS)
        if not days:
            return Content("No model calls yet: recipes cost nothing, goals in words do.")
        today = spend.today(self.store, self.store.clock())
        budget = spend.budget_line(today, self.settings.budget.daily_usd)
        return Content.assemble(
            (budget + "\n\n", "bold"),
            _section(f"Per day (last {DAYS} with calls)", spend.chart(days, 30, 10)),
            "\n",
            _section("Per goal (the most expensive)", spend.chart(spend.by_goal(self.store), 30)),
        )

    def action_close(self) -> None:
        self.dismiss(None)
