"""The goal list: status glyph, title, progress, cost and priority; filtered, sorted, virtual.

The line API (a :class:`~textual.scroll_view.ScrollView` with ``render_line``): only the lines on
screen are rendered, so 100,000 goals cost one small slotted row each and open at once. Updates
name the goals that changed; each is re-read, re-filtered and moved to its sorted place (a bisect),
so a busy executor never re-sorts the whole list.
"""

from __future__ import annotations

import bisect
import textwrap
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from agent_tui.core.states import GoalStatus
from agent_tui.core.store.panes import GoalRow
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.format import DRY_RUN_GLYPH, glyph

SORTS = ("priority", "newest", "status")
"""Sort orders ``o`` cycles through."""
STATUS_RANK = {
    s: i
    for i, s in enumerate(
        ("waiting", "running", "planning", "paused", "queued", "failed", "completed", "cancelled")
    )
}
"""The status order: what needs a person first, finished work last."""
EMPTY_HINT = "No goals yet: press n to add one."
NO_MATCH = "No goal matches the filter. S searches outputs, transcripts and documents too."
BAR_CELLS = 4
STATUS_CLASS = {
    "completed": "success",
    "failed": "error",
    "running": "accent",
    "planning": "accent",
    "waiting": "warning",
    "paused": "warning",
    "cancelled": "muted",
}


def sort_key(mode: str) -> Callable[[GoalRow], tuple[Any, ...]]:
    """The key that orders rows for ``mode``; ids break ties so the order is total."""
    if mode == "newest":
        return lambda r: (-r.id,)
    if mode == "status":
        return lambda r: (STATUS_RANK.get(r.status, 9), -r.priority, r.id)
    return lambda r: (-r.priority, r.id)


def cost_text(row: GoalRow) -> str:
    """``-`` with no model call, ``?`` when a call's cost is unknown, else dollars."""
    if not row.model_calls:
        return "-"
    cost = row.cost_usd
    return "?" if cost is None else f"${cost:.2f}"


def _subsequence(needle: str, haystack: str) -> bool:
    """Whether the letters of ``needle`` appear in ``haystack`` in order (``wkrpt`` in
    ``weekly report``)."""
    letters = iter(haystack)
    return all(char in letters for char in needle)


def matches(text: str, row: GoalRow, title: str | None = None) -> bool:
    """Whether a goal matches the filter: every word must match its status (a prefix: ``fail``),
    its id (``#12`` or ``12``) or its title (a part, or its letters in order). ``title``: the
    title already case-folded (the list keeps them)."""
    title = row.title.casefold() if title is None else title
    for word in text.casefold().split():
        ident = word.removeprefix("#")
        if ident.isdigit() and int(ident) == row.id:
            continue
        if row.status.startswith(word) or (row.wait_reason or "").startswith(word):
            continue
        if word in title or (len(word) >= 3 and _subsequence(word, title)):
            continue
        return False
    return True


def narrows(old: str, new: str) -> bool:
    """Whether every goal matching ``new`` also matches ``old``, so the new filter need only look
    at the old one's matches: the same words, the last one typed further, once it has three
    characters (shorter words match titles by part only, longer ones by their letters in order
    too) and is no number (a longer number names another goal)."""
    old_words, new_words = old.casefold().split(), new.casefold().split()
    if not old_words or len(old_words) != len(new_words) or old_words[:-1] != new_words[:-1]:
        return False
    last, typed = old_words[-1], new_words[-1]
    return (
        typed.startswith(last)
        and len(last) >= 3
        and not typed.removeprefix("#").isdigit()
        and not new.endswith(" ")
    )


def bar(done: int, total: int) -> tuple[str, str]:
    """A four-cell progress bar, as the filled and the empty part."""
    if not total:
        return "", " " * BAR_CELLS
    filled = round(BAR_CELLS * done / total)
    return "▰" * filled, "▱" * (BAR_CELLS - filled)


class GoalList(SurvivesAway, ScrollView, can_focus=True):
    """Goals, one per line; moving the cursor posts :class:`GoalList.Highlighted`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, id="goals_up"),
        Binding("down,j", "move(1)", "Down", show=False, id="goals_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="goals_page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="goals_page_down"),
        Binding("home", "jump(0)", "First", show=False, id="goals_first"),
        Binding("end", "jump(-1)", "Last", show=False, id="goals_last"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "goal-list--cursor",
        "goal-list--muted",
        "goal-list--success",
        "goal-list--error",
        "goal-list--accent",
        "goal-list--warning",
    }
    DEFAULT_CSS = """
    GoalList {
        background: $surface;
        & > .goal-list--cursor { background: $block-cursor-blurred-background; }
        &:focus > .goal-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        & > .goal-list--muted { color: $text-muted; }
        & > .goal-list--success { color: $text-success; }
        & > .goal-list--error { color: $text-error; }
        & > .goal-list--accent { color: $text-accent; }
        & > .goal-list--warning { color: $text-warning; }
    }
    """

    class CountsWanted(Message):
        """Rows on screen whose step counts and cost were not read yet."""

        def __init__(self, ids: frozenset[int]) -> None:
            super().__init__()
            self.ids = ids

    class Highlighted(Message):
        """The highlighted goal changed (``None``: no goal)."""

        def __init__(self, goal_id: int | None) -> None:
            super().__init__()
            self.goal_id = goal_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: dict[int, GoalRow] = {}
        self.order: list[int] = []
        """The ids shown, filtered and sorted."""
        self.cursor = 0
        self.sort = SORTS[0]
        self.filter = ""
        self.loaded = False
        self._current: int | None = None
        self._uncounted: set[int] = set()
        """Rows drawn without their counts, asked for once the frame is out."""
        self._base: list[int] | None = None
        """Every id in the current sort order (filtered from, never re-sorted per keystroke);
        ``None`` once rows or the sort changed."""
        self._folded: dict[int, str] = {}
        """Case-folded titles, by id, for the filter."""

    # -- what is shown -----------------------------------------------------------------------

    @property
    def goal_id(self) -> int | None:
        """The highlighted goal's id."""
        return self.order[self.cursor] if 0 <= self.cursor < len(self.order) else None

    def row(self, goal_id: int | None) -> GoalRow | None:
        """The last row read for ``goal_id``."""
        return self.rows.get(goal_id) if goal_id is not None else None

    def show(self, rows: Iterable[GoalRow]) -> None:
        """Replace every row (the first load, or a full reload); keep the highlighted goal.

        A row read without its counts keeps the counts last read for it until it is shown again
        and they are read afresh, so a reload never blanks the progress bars.
        """
        keep = self.goal_id
        old = self.rows
        fresh: dict[int, GoalRow] = {}
        for row in rows:
            before = old.get(row.id)
            if not row.counted and before is not None and before.counted:
                row.steps_total, row.steps_done = before.steps_total, before.steps_done
                row.model_calls, row.costs_known = before.model_calls, before.costs_known
                row.cost, row.files_changed = before.cost, before.files_changed
            fresh[row.id] = row
        self.rows = fresh
        self._base = None
        self._folded = {}
        self.loaded = True
        self._rebuild(keep)

    def update(self, ids: Iterable[int], rows: Iterable[GoalRow]) -> None:
        """``ids`` were re-read as ``rows``; an id missing from ``rows`` is gone (archived)."""
        keep = self.goal_id
        fresh = {r.id: r for r in rows}
        key = sort_key(self.sort)
        changed = False
        for goal_id in set(ids):
            old, new = self.rows.get(goal_id), fresh.get(goal_id)
            if old == new:
                continue
            changed = True
            self._base = None
            self._folded.pop(goal_id, None)
            was_shown = old is not None and self._matches(old)
            if was_shown and old is not None and (new is None or key(old) != key(new)):
                self._remove(goal_id, key(old), key)
                was_shown = False
            if new is None:
                self.rows.pop(goal_id, None)
                continue
            self.rows[goal_id] = new
            if self._matches(new) and not was_shown:
                bisect.insort(self.order, goal_id, key=lambda i: key(self.rows[i]))
            elif was_shown and not self._matches(new):
                self._remove(goal_id, key(new), key)
        if changed:
            self._placed(keep)

    def _remove(self, goal_id: int, old_key: tuple[Any, ...], key: Callable[..., Any]) -> None:
        index = bisect.bisect_left(self.order, old_key, key=lambda i: key(self.rows[i]))
        if index < len(self.order) and self.order[index] == goal_id:
            del self.order[index]
        elif goal_id in self.order:
            self.order.remove(goal_id)

    def set_sort(self, mode: str) -> None:
        self.sort = mode
        self._base = None
        self._rebuild(self.goal_id)

    def set_filter(self, text: str) -> None:
        old, self.filter = self.filter, text
        if narrows(old, text):  # typing on: only the goals that matched so far can match
            keep = self.goal_id
            self.order = [i for i in self.order if self._matches(self.rows[i])]
            self._placed(keep)
            return
        self._rebuild(self.goal_id)

    def select_goal(self, goal_id: int) -> None:
        """Highlight ``goal_id``; a goal hidden by the filter clears the filter first."""
        if goal_id not in self.rows:
            return
        if goal_id not in self.order and self.filter:
            self.set_filter("")
        key = sort_key(self.sort)
        index = bisect.bisect_left(
            self.order, key(self.rows[goal_id]), key=lambda i: key(self.rows[i])
        )
        if index < len(self.order) and self.order[index] == goal_id:
            self._move_to(index)

    def _matches(self, row: GoalRow) -> bool:
        if not self.filter:
            return True
        title = self._folded.get(row.id)
        if title is None:
            title = self._folded[row.id] = row.title.casefold()
        return matches(self.filter, row, title)

    def _rebuild(self, keep: int | None) -> None:
        if self._base is None:
            key = sort_key(self.sort)
            self._base = [r.id for r in sorted(self.rows.values(), key=key)]
        if self.filter:
            self.order = [i for i in self._base if self._matches(self.rows[i])]
        else:
            self.order = list(self._base)
        self._placed(keep)

    def _placed(self, keep: int | None) -> None:
        """After the order changed: keep ``keep`` highlighted, resize, redraw, announce."""
        if keep is not None and keep in self.rows and self._matches(self.rows[keep]):
            key = sort_key(self.sort)
            self.cursor = bisect.bisect_left(
                self.order, key(self.rows[keep]), key=lambda i: key(self.rows[i])
            )
        self.cursor = max(0, min(self.cursor, len(self.order) - 1))
        self.virtual_size = Size(self.scrollable_content_region.width, max(1, len(self.order)))
        self._scroll_to_cursor()
        self.refresh()
        self._announce()

    # -- the cursor --------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        self._move_to(self.cursor + delta * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, index: int) -> None:
        self._move_to(index if index >= 0 else len(self.order) - 1)

    def _move_to(self, index: int) -> None:
        if not self.order:
            return
        index = max(0, min(index, len(self.order) - 1))
        if index != self.cursor:
            old = self.cursor
            self.cursor = index
            self.refresh_line(old)
            self.refresh_line(index)
        self._scroll_to_cursor()
        self._announce()

    def refresh_line(self, index: int) -> None:
        y = index - self.scroll_offset.y
        if 0 <= y < self.scrollable_content_region.height:
            self.refresh_lines(y)

    def _scroll_to_cursor(self) -> None:
        if self.order:
            region = Region(0, self.cursor, max(1, self.size.width), 1)
            self.scroll_to_region(region, animate=False, force=True, immediate=True)

    def _announce(self) -> None:
        goal_id = self.goal_id
        if goal_id != self._current:
            self._current = goal_id
            self.post_message(self.Highlighted(goal_id))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.order):
            self._move_to(index)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, max(1, len(self.order)))

    # -- rendering ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = self.scroll_offset.y + y
        if index >= len(self.order):
            hint = textwrap.wrap(NO_MATCH if self.rows else EMPTY_HINT, max(8, width))
            if not self.order and self.loaded and index < len(hint):
                muted = base + self.get_component_rich_style("goal-list--muted")
                text = hint[index][:width]
                return Strip([Segment(text, muted)]).extend_cell_length(width, base)
            return Strip.blank(width, base)
        row = self.rows[self.order[index]]
        if not row.counted:
            self._want_counts(row.id)
        line = base
        if index == self.cursor:
            line = base + self.get_component_rich_style("goal-list--cursor")
        return Strip(self._segments(row, width, line), width)

    def _want_counts(self, goal_id: int) -> None:
        if not self._uncounted:
            self.call_later(self._ask_counts)
        self._uncounted.add(goal_id)

    def _ask_counts(self) -> None:
        wanted, self._uncounted = frozenset(self._uncounted), set()
        if wanted:
            self.post_message(self.CountsWanted(wanted))

    def _style(self, line: Style, name: str | None) -> Style:
        if name is None:
            return line
        return line + self.get_component_rich_style(f"goal-list--{name}", partial=True)

    def _segments(self, row: GoalRow, width: int, line: Style) -> list[Segment]:
        done, todo = bar(row.steps_done, row.steps_total)
        # The cost goes last and only for goals that called a model: recipes leave the title room.
        cost = "" if not row.model_calls else " " + cost_text(row)
        prio = f"p{row.priority}".rjust(4)
        changed = f" ±{row.files_changed}" if row.files_changed else ""
        ident = f"#{row.id} "
        right = 1 + BAR_CELLS + len(cost) + len(prio) + len(changed)
        title_width = max(1, width - 2 - len(ident) - right)
        title = row.title if len(row.title) <= title_width else row.title[: title_width - 1] + "…"
        status = STATUS_CLASS.get(row.status)
        bar_style = "error" if row.status == GoalStatus.FAILED else "success"
        segments = [
            Segment(
                DRY_RUN_GLYPH
                if row.dry_run and row.status == GoalStatus.COMPLETED
                else glyph(row.status),
                self._style(line, status),
            ),
            Segment(" " + ident, self._style(line, "muted")),
            Segment(title.ljust(title_width), line),
            Segment(changed, self._style(line, "muted")),
            Segment(" ", line),
            Segment(done, self._style(line, bar_style)),
            Segment(todo, self._style(line, "muted")),
            Segment(prio, self._style(line, "muted")),
            Segment(cost, self._style(line, "muted")),
        ]
        return list(Segment.adjust_line_length(segments, width, line))
