"""The goal list: one line per goal (status glyph, title, steps done/total, priority).

An :class:`~textual.widgets.OptionList`, so thousands of goals cost one line each to render, not
one widget each. Refreshes replace prompts in place and keep the highlighted goal.
"""

from __future__ import annotations

from textual import on
from textual.content import Content
from textual.events import Resize
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agent_tui.core.store import Row
from agent_tui.ui.format import glyph, style

EMPTY_HINT = "No goals yet: press n to add one."


class GoalList(OptionList):
    """Goals, oldest first; highlighting one posts :class:`GoalList.Highlighted`."""

    class Highlighted(Message):
        """The highlighted goal changed (``None``: no goal)."""

        def __init__(self, goal_id: int | None) -> None:
            super().__init__()
            self.goal_id = goal_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[Row] = []
        self._current: int | None = None

    @property
    def goal_id(self) -> int | None:
        """The highlighted goal's id."""
        option = self.highlighted_option
        return int(option.id) if option is not None and option.id else None

    def row(self, goal_id: int) -> Row | None:
        """The last row shown for ``goal_id``."""
        return next((r for r in self._rows if r["id"] == goal_id), None)

    def show(self, rows: list[Row]) -> None:
        """Show ``rows``; keep the highlighted goal, or highlight the first one."""
        old_ids = [r["id"] for r in self._rows]
        new_ids = [r["id"] for r in rows]
        width = self._prompt_width()
        if rows and old_ids == new_ids:
            for index, (old, new) in enumerate(zip(self._rows, rows, strict=True)):
                if old != new:
                    self.replace_option_prompt_at_index(index, self._prompt(new, width))
            self._rows = rows
            return
        if not rows and not self._rows and self.option_count:
            return
        keep = self.goal_id
        self._rows = rows
        if not rows:
            self.set_options([Option(Content.styled(EMPTY_HINT, "$text-muted"), disabled=True)])
            self._announce(None)
            return
        self.set_options(Option(self._prompt(r, width), id=str(r["id"])) for r in rows)
        index = new_ids.index(keep) if keep in new_ids else 0
        self.highlighted = index

    def select_goal(self, goal_id: int) -> None:
        """Highlight ``goal_id`` if it is shown."""
        try:
            self.highlighted = self.get_option_index(str(goal_id))
        except Exception:
            return

    def _prompt_width(self) -> int:
        return max(16, self.scrollable_content_region.width - 2)

    def _prompt(self, row: Row, width: int) -> Content:
        total, done = row["steps_total"], row["steps_done"]
        right = f" {done}/{total}" if total else ""
        right += f" p{row['priority']}"
        title_width = max(4, width - 2 - len(right))
        title = Content(row["title"]).truncate(title_width, ellipsis=True, pad=True)
        return Content.assemble(
            (glyph(row["status"]), style(row["status"])),
            " ",
            title,
            (right, "$text-muted"),
        )

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._announce(self.goal_id)

    def _announce(self, goal_id: int | None) -> None:
        if goal_id != self._current:
            self._current = goal_id
            self.post_message(self.Highlighted(goal_id))

    def on_resize(self, event: Resize) -> None:
        if self._rows:
            width = self._prompt_width()
            for index, row in enumerate(self._rows):
                self.replace_option_prompt_at_index(index, self._prompt(row, width))
