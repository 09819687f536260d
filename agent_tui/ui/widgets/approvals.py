"""The approvals pane: every pending approval across goals, and exactly what the highlighted one
would run (the full command, the diff), with the keys that decide it.

The screen's bindings (``a``, ``r``, ``d``, ``s``) act on :attr:`Approvals.current`; this widget
only shows the queue and keeps the highlighted item across refreshes.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent_tui.core.store import Row
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.format import one_line

EMPTY = "Nothing waits for a decision."
KEYS_ACTION = "a approve · A always · r reject · G all of goal · v: full view"
KEYS_UNKNOWN = "a run again · d mark done · s skip · r reject · v: full view"
KEYS_STILL_RUNNING = "W wait for it · d mark done · s skip · r reject · v: full view"
"""The keys of a question about a command that still runs (run again is refused until it ends)."""


def keys_for(row: Row) -> str:
    """The keys that decide ``row``, as the queue and the full view show them."""
    if row["kind"] != "unknown":
        return KEYS_ACTION
    return KEYS_STILL_RUNNING if still_running(row) else KEYS_UNKNOWN


def still_running(row: Row) -> bool:
    """Whether the question is about a command that outlived its executor and still runs."""
    return row["kind"] == "unknown" and ", still running (pid" in str(row.get("title") or "")


DIFF_STYLES = (
    ("+++ ", "bold"),
    ("--- ", "bold"),
    ("@@", "$text-accent"),
    ("+", "$text-success"),
    ("-", "$text-error"),
)


class Approvals(SurvivesAway, Vertical):
    """The queue (an option list) above the highlighted item's full detail."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: Sequence[Row] = []
        self._detail_of: Row | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="approval-list")
        with VerticalScroll(id="approval-scroll"):
            yield Static(EMPTY, id="approval-detail", markup=False)
        yield Static("", id="approval-keys")

    @property
    def current(self) -> Row | None:
        """The highlighted pending approval."""
        option = self.query_one("#approval-list", OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        return next((r for r in self.rows if str(r["id"]) == option.id), None)

    def show(self, rows: Sequence[Row]) -> None:
        """Show the pending approvals; keep the highlighted one if it is still pending."""
        listing = self.query_one("#approval-list", OptionList)
        if [r["id"] for r in rows] == [r["id"] for r in self.rows] and listing.option_count:
            self.rows = rows
            self._show_detail()
            return
        keep = self.current
        self.rows = rows
        listing.set_options(Option(_prompt(r), id=str(r["id"])) for r in rows)
        ids = [r["id"] for r in rows]
        if rows:
            listing.highlighted = ids.index(keep["id"]) if keep and keep["id"] in ids else 0
        self._show_detail()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show_detail()
        self.refresh_bindings()  # the keys differ between an action and an interrupted one

    def _show_detail(self) -> None:
        detail = self.query_one("#approval-detail", Static)
        keys = self.query_one("#approval-keys", Static)
        row = self.current
        if row == self._detail_of and row is not None:
            return
        self._detail_of = row
        if row is None:
            detail.update(EMPTY)
            keys.update("")
            return
        where = f"goal {row['goal_id']} · {row['goal_title']}"
        if row["step"]:
            where += f" · step {row['step']}"
        detail.update(describe(row))
        keys.update(Content.styled(keys_for(row), "bold"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.Opened(self.current))

    class Opened(Message):
        """Enter on an approval: show it in full."""

        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row


def describe(row: Row) -> Content:
    """An approval in full: which goal and step, why it was asked, and exactly what would run."""
    where = f"goal {row['goal_id']} · {row['goal_title']}"
    if row["step"]:
        where += f" · step {row['step']}"
    head = Content.assemble((f"#{row['id']} {row['tool'] or row['kind']}", "bold"), f"\n{where}\n")
    if row["decision_reason"] and row["kind"] == "action":
        head += Content.styled(f"why asked: {row['decision_reason']}\n", "$text-muted")
    return head + Content("\n") + colour_diff(row["detail"] or "")


def colour_diff(text: str) -> Content:
    """``text`` with the lines of a unified diff in it coloured; anything else stays plain."""
    lines = text.split("\n")
    in_diff = False
    out: list[Content] = []
    for index, line in enumerate(lines):
        if (
            line.startswith("--- ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("+++ ")
        ):
            in_diff = True
        style = ""
        if in_diff:
            style = next((s for prefix, s in DIFF_STYLES if line.startswith(prefix)), "")
        out.append(Content.styled(line, style) if style else Content(line))
    return Content("\n").join(out)


def _prompt(row: Row) -> Content:
    mark = "?" if row["kind"] == "unknown" else "…"
    return Content.assemble((mark, "$text-warning"), f" #{row['id']} ", one_line(row["title"], 100))
