"""The output pane: the selected step's latest action output, stored and then live.

A :class:`~textual.widgets.Log` (the line API, ~100k lines/s). Output reaches it from two sources
that overlap: the rows already in the database (read when a step is selected, and again when
another process commits) and the live segments this process's executor streams. Both are pieces
of one stream, so the pane keeps how many characters of it it shows and appends only what is new.
"""

from __future__ import annotations

from textual.widgets import Log

from agent_tui import paths
from agent_tui.core.store import Store
from agent_tui.ui.messages import OutputSegment
from agent_tui.ui.queries import action_row, output_after

MAX_LINES = 20_000
"""Lines kept on screen; the database keeps the tail of each action, the log file all of it."""


class ToolOutput(Log):
    """Shows one action's output; :meth:`show_action` switches, the rest appends."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LINES, auto_scroll=True)
        self.action_id: int | None = None
        self._shown = 0
        self._db_chars = 0
        self._db_row = 0
        self._status = ""

    def show_action(self, store: Store, action_id: int | None, step_key: str = "") -> None:
        """Switch to ``action_id`` (or to nothing) and load what the database holds of it."""
        self.clear()
        self.action_id = action_id
        self._shown = self._db_chars = self._db_row = 0
        if action_id is None:
            self.border_title = f"Output · {step_key}" if step_key else "Output"
            self._status = "no action yet" if step_key else ""
            self._subtitle()
            return
        self.border_title = f"Output · {step_key} · action {action_id}"
        row = action_row(store, action_id)
        text, self._db_row = output_after(store, action_id, 0)
        stored = len(text.encode("utf-8", "replace"))
        if row is not None and row["output_bytes"] > stored:
            self.write_line(
                f"… earlier output left out; all of it is in {paths.outputs_dir()}/{action_id}.log"
            )
        self._db_chars = len(text)
        self._append(0, text)
        self._describe(store)

    def sync(self, store: Store) -> None:
        """Append rows another process (or a flush) stored since the last read."""
        if self.action_id is None:
            return
        text, self._db_row = output_after(store, self.action_id, self._db_row)
        if text:
            self._append(self._db_chars, text)
            self._db_chars += len(text)
        self._describe(store)

    def add_segment(self, segment: OutputSegment) -> None:
        """Append a live segment if it belongs to the shown action."""
        if segment.action_id == self.action_id:
            self._append(segment.start, segment.text)

    def toggle_follow(self) -> bool:
        """Turn following the end of the output on or off; return the new state."""
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False)
        self._subtitle()
        return self.auto_scroll

    def _append(self, start: int, text: str) -> None:
        end = start + len(text)
        if end <= self._shown:
            return
        self.write(text[max(0, self._shown - start) :])
        self._shown = end

    def _describe(self, store: Store) -> None:
        row = action_row(store, self.action_id) if self.action_id is not None else None
        self._status = ""
        if row is not None:
            self._status = f"{row['tool']} · {row['status'].replace('_', ' ')}"
            if row["exit_code"] is not None:
                self._status += f" · exit {row['exit_code']}"
        self._subtitle()

    def _subtitle(self) -> None:
        follow = "following" if self.auto_scroll else "not following (f)"
        self.border_subtitle = f"{self._status} · {follow}" if self._status else follow
