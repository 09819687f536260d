"""The output pane: the selected step's latest action output, or an agent step's conversation.

A :class:`~textual.widgets.Log` (the line API, ~100k lines/s) with a bound on its lines, so memory
stays flat however long a stream runs. For a tool step, output reaches it from two sources that
overlap: the rows already in the database (read when a step is selected, and again when another
process commits) and the live segments this process's executor streams. Both are pieces of one
stream, so the pane keeps how many characters of it it shows and appends only what is new.

For an agent or plan step it shows the stored transcript, then the model's text as it streams
(and the live output of the tools it calls); each newly stored message redraws the transcript,
which replaces the live tail with what was kept.
"""

from __future__ import annotations

import json
import re
from typing import Self

from rich.cells import cell_len
from textual.geometry import Size
from textual.widgets import Log

from agent_tui import paths
from agent_tui.core.checkpoints.record import describe
from agent_tui.core.display import changes_summary as summary
from agent_tui.core.display import output_log_place
from agent_tui.core.states import STEP_TERMINAL, ActionStatus
from agent_tui.core.store import Row, Store, steps
from agent_tui.core.store.panes import (
    action_row,
    checkpoint_of,
    last_message_seq,
    messages_after,
    output_after,
)
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.messages import OutputSegment
from agent_tui.ui.transcript import format_rows

LINE_BREAK = re.compile(r"\r\n|\r|\n")
FINISHED = frozenset({"succeeded", "failed", "unknown"})
ENDED = FINISHED | {"dry_run", "rejected", "denied"}
"""Action states after which nothing more streams."""
"""Action statuses after which no more output arrives."""
MAX_LINES = 20_000
"""Lines kept on screen; the database keeps the tail of each action, the log file all of it."""


class ToolOutput(SurvivesAway, Log):
    """Shows one action's output; :meth:`show_action` switches, the rest appends."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LINES, auto_scroll=True)
        self.action_id: int | None = None
        self.transcript_step: int | None = None
        """The agent step whose conversation is shown, if any."""
        self._seq = 0
        self._step_key = ""
        self._live = False
        self._finished = False
        self._shown = 0
        self._db_chars = 0
        self._db_row = 0
        self._status = ""
        self._checkpoint_shown = False
        self._checkpoint_note = ""
        """What the action changed (" · changed 1 file (+1 −0)"), kept for every later subtitle."""
        self.wrap = True
        """Long lines continue on the next line (``w`` turns it off to scroll sideways)."""
        self._store: Store | None = None
        self._wrapped_at = 0

    def write(self, data: str, scroll_end: bool | None = None) -> Self:
        """Append ``data`` in one pass: one refresh per batch, and the view sized after pruning.

        ``Log.write`` refreshes each new line on its own (at 10,000 lines/s that alone took a
        third of the loop) and sizes the view before pruning to ``max_lines``, so a burst larger
        than the cap left the view scrolled past the end. This reaches into ``Log``'s internals,
        which is safe only because textual is pinned to one version.
        """
        if not data:
            return self
        lines = self._lines
        if not lines:
            lines.append("")
        last = len(lines) - 1
        pieces = LINE_BREAK.split(data)
        lines[last] += pieces[0]
        lines.extend(pieces[1:])
        width = self.scrollable_content_region.width
        if self.wrap and width > 8:
            self._wrapped_at = width
            self._fold(lines, last, width)
        widest = max(len(piece) for piece in pieces)
        if widest > self._width or not data.isascii() or "\t" in data:
            process = self._process_line
            self._width = max(self._width, *(cell_len(process(p)) for p in lines[last:]))
        self._render_line_cache.discard(last)
        if self.max_lines is not None and len(lines) > self.max_lines:
            self._prune_max_lines()
        self.virtual_size = Size(self._width, self.line_count)
        self.refresh()
        if self.auto_scroll if scroll_end is None else scroll_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self

    @staticmethod
    def _fold(lines: list[str], first: int, width: int) -> None:
        """Break ``lines[first:]`` longer than ``width`` characters into several lines."""
        if all(len(line) <= width for line in lines[first:]):
            return
        folded: list[str] = []
        for line in lines[first:]:
            while len(line) > width:
                folded.append(line[:width])
                line = line[width:]
            folded.append(line)
        lines[first:] = folded

    def toggle_wrap(self) -> bool:
        """Wrap long lines or not; the shown output is loaded again. Returns the new state."""
        self.wrap = not self.wrap
        self.reload()
        self._subtitle()
        return self.wrap

    def reload(self) -> None:
        """Load what is shown again from the database (after a wrap toggle or a resize)."""
        if self._store is None:
            return
        if self.transcript_step is not None:
            self.show_transcript(self._store, self.transcript_step, self._step_key)
        elif self.action_id is not None:
            self.show_action(self._store, self.action_id, self._step_key)

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if self.wrap and width > 8 and width != self._wrapped_at and self.line_count:
            self._wrapped_at = width
            self.call_after_refresh(self.reload)

    def show_action(self, store: Store, action_id: int | None, step_key: str = "") -> None:
        """Switch to ``action_id`` (or to nothing) and load what the database holds of it."""
        self._store = store
        self._step_key = step_key
        self.clear()
        self.action_id = action_id
        self.transcript_step = None
        self._shown = self._db_chars = self._db_row = 0
        self._checkpoint_shown = False
        self._checkpoint_note = ""
        self._result_shown = False
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
            place = output_log_place(
                row["output_host"], row["output_log"], f"{paths.outputs_dir()}/{action_id}.log"
            )
            self.write(f"… earlier output left out; all of it is in {place}\n")
        self._db_chars = len(text)
        self._append(0, text)
        self._describe(store)

    def show_transcript(self, store: Store, step_id: int, step_key: str) -> None:
        """Switch to an agent step's conversation: everything stored so far."""
        self._store = store
        self.clear()
        self.action_id = None
        self.transcript_step = step_id
        self._step_key = step_key
        self._live = False
        step = steps.step(store, step_id)
        # A finished step streams nothing new: a live chunk that reaches the pane after its
        # stored conversation (the bridge can be late under load) is already in it.
        self._finished = step is None or step.status in STEP_TERMINAL
        rows = messages_after(store, step_id)
        self._seq = int(rows[-1]["seq"]) if rows else 0
        self.border_title = f"Output · {step_key} · conversation"
        if rows:
            self.write(format_rows(rows))
        else:
            self.write("(no message yet: the model's text appears here as it streams)\n")
        self._status = f"{len(rows)} message(s)"
        self._subtitle()

    def sync(self, store: Store) -> None:
        """Append rows another process (or a flush) stored since the last read."""
        if self.transcript_step is not None:
            if last_message_seq(store, self.transcript_step) != self._seq:
                self.show_transcript(store, self.transcript_step, self._step_key)
            return
        if self.action_id is None:
            return
        text, self._db_row = output_after(store, self.action_id, self._db_row)
        if text:
            self._append(self._db_chars, text)
            self._db_chars += len(text)
        self._describe(store)

    def add_segment(self, segment: OutputSegment) -> None:
        """Append a live segment if it belongs to the shown action or agent step."""
        if self.transcript_step is not None:
            if segment.step_id == self.transcript_step and not self._finished:
                if not self._live:
                    self._live = True
                    self.write("── live ──\n")
                self.write(segment.text)
            return
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
            if row["status"] == ActionStatus.DRY_RUN:
                self._status = f"{row['tool']} · dry run: not executed"
            if row["exit_code"] is not None:
                self._status += f" · exit {row['exit_code']}"
            if row["status"] in ENDED and not self._result_shown and not self._shown:
                self._show_result(row)
            if row["status"] in FINISHED and not self._checkpoint_shown:
                self._show_checkpoint(store, row["id"])
            self._status += self._checkpoint_note
        self._subtitle()

    def _show_result(self, row: Row) -> None:
        """An action that streamed nothing (a file written, a dry run, a denial): what it was
        and what came of it, never an empty pane."""
        self._result_shown = True
        result = json.loads(row["result"]) if row["result"] else {}
        lines: list[str] = []
        if row["status"] == ActionStatus.DRY_RUN:
            lines += ["dry run: not executed. It would have run:", row["preview"] or row["tool"]]
        else:
            if row["preview"]:
                lines.append(row["preview"])
            output = str(result.get("output") or "").strip()
            if output and output != (row["preview"] or "").strip():
                lines += ["", f"── result: {output}"]
            if row["error"]:
                lines += ["", f"── {row['status']}: {row['error']}"]
        if lines:
            self.write("\n".join(lines).rstrip("\n") + "\n")

    def _show_checkpoint(self, store: Store, action_id: int) -> None:
        """Once the action has ended (all its output is in), what it changed in the workspace."""
        found = checkpoint_of(store, action_id)
        if found is None:
            return
        self._checkpoint_shown = True
        self._checkpoint_note = " · " + summary(found["files"], found["added"], found["removed"])
        if found["files"]:
            self.write(f"\n── checkpoint: {describe(found)}\n")

    def _subtitle(self) -> None:
        follow = "following" if self.auto_scroll else "not following (f)"
        if not self.wrap:
            follow += " · not wrapped (w)"
        self.border_subtitle = f"{self._status} · {follow}" if self._status else follow
