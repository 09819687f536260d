"""Batched, capped storage of a running action's output, plus the full stream in a log file.

The log file ``<outputs>/<action id>.log`` is created at the first batch, so any action that streams
for longer than a moment (or more than 64 KiB) has one from its start and can be followed with
``tail -f``. An action that ends before its first batch (most quick steps) is whole in the database
and gets no file: creating thousands of tiny files cost more than the rest of a trivial step.

A batch never opens a transaction inside another one: :meth:`OutputWriter.close` writes the last
batch in the caller's transaction, and a batch that comes due while some transaction is open on the
connection waits for the timer.
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from agent_tui.core.events import OutputChunk
from agent_tui.core.secrets import StreamRedactor
from agent_tui.core.store import Store, Tx
from agent_tui.core.store import output as stored
from agent_tui.core.store.panes import output_after

if TYPE_CHECKING:  # ls and show read output through this module: they need no event loop
    import asyncio

log = logging.getLogger(__name__)
FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 0.1


class OutputWriter:
    """Collects ``(stream, text)`` chunks; writes them to the database at most ~10 times a second.

    The database keeps the last ``cap`` bytes of each action; the log file keeps all of it.
    """

    def __init__(
        self,
        store: Store,
        *,
        goal_id: int,
        step_id: int,
        action_id: int,
        cap: int,
        log_dir: Path,
        host: str | None = None,
        on_chunk: Callable[[OutputChunk], None] | None = None,
    ) -> None:
        self.store = store
        self.goal_id, self.step_id, self.action_id = goal_id, step_id, action_id
        self.cap = cap
        self.on_chunk = on_chunk
        self.total = 0
        self._stored = 0
        self._buffer: list[tuple[str, str]] = []
        self._pending = 0
        self._timer: asyncio.TimerHandle | None = None
        self.log_path = log_dir.absolute() / f"{action_id}.log"
        self.host = host or socket.gethostname()
        """The host the log file is on, as the action's row says (viewers may be elsewhere)."""
        self._log: IO[str] | None = None
        self._log_recorded = False
        self._redactors: dict[str, StreamRedactor] = {}
        self._closed = False
        self.disk_error: str | None = None
        """Why output could not all be kept (``disk full: PATH``); the action fails with it."""

    def emit(self, stream: str, text: str) -> None:
        """Take a chunk: redact secrets, push it to listeners, buffer it for the database."""
        if self.store.redactor:
            redactor = self._redactors.setdefault(stream, StreamRedactor(self.store.redactor))
            text = redactor.feed(text)
        self._emit(stream, text)

    def _emit(self, stream: str, text: str, *, closing: bool = False) -> None:
        """Buffer a redacted chunk; a full batch is written at once, unless ``closing`` (the
        caller writes it, maybe in its own transaction)."""
        if not text:
            return
        self._buffer.append((stream, text))
        size = len(text.encode("utf-8", "replace"))
        self._pending += size
        self.total += size
        if self._log is not None:
            self._guarded(self._log.write, text)
        if self.on_chunk is not None:
            self.on_chunk(OutputChunk(self.goal_id, self.step_id, self.action_id, stream, text))
        if closing:
            return
        if self._pending >= FLUSH_BYTES and not stored.in_transaction(self.store):
            self.flush()
        else:
            self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            return
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(FLUSH_SECONDS, self._flush_due)

    def _flush_due(self) -> None:
        """The timer's batch: written now, or a little later if a transaction is open."""
        self._timer = None
        if stored.in_transaction(self.store):
            self._arm_timer()
        else:
            self.flush()

    def _rows(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for stream, text in self._buffer:
            if rows and rows[-1][0] == stream:
                rows[-1] = (stream, rows[-1][1] + text)
            else:
                rows.append((stream, text))
        return [(stream, text[-self.cap :]) for stream, text in rows]

    def flush(self, tx: Tx | None = None) -> None:
        """Write what is buffered (in ``tx``, or a transaction of its own) and trim to the cap."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        if tx is None and self._log is None and not self._closed:
            self._open_log()
        if self._log is not None:
            self._guarded(self._log.flush)
        rows = self._rows()
        self._buffer.clear()
        self._stored += self._pending
        self._pending = 0
        if tx is not None:
            self._write(tx, rows)
            return
        try:
            with self.store.write() as own:
                self._write(own, rows)
        except sqlite3.OperationalError as exc:
            if "full" not in str(exc).lower():
                raise
            self._failed(f"disk full: {self.store.path}", exc)  # this batch is lost, said once

    def _guarded(self, write: Callable[..., object], *args: object) -> None:
        """A write to the log file; on failure the file is given up (said once), the stream
        goes on: the pipe is always drained, so the command never blocks on a full disk."""
        try:
            write(*args)
        except OSError as exc:
            reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror
            self._failed(f"{reason}: {self.log_path}", exc)
            log_file, self._log = self._log, None
            if log_file is not None:
                try:
                    log_file.close()
                except OSError:
                    pass

    def _failed(self, what: str, exc: BaseException) -> None:
        if self.disk_error is None:
            self.disk_error = what
            log.warning(
                "action %s: output not kept from byte %d: %s (%s)",
                self.action_id,
                self.total,
                what,
                exc,
            )

    def _write(self, tx: Tx, rows: list[tuple[str, str]]) -> None:
        stored.append(tx, self.action_id, rows)
        stored.set_output_bytes(tx, self.action_id, self.total)
        if self._log is not None and not self._log_recorded:
            stored.set_output_log(tx, self.action_id, self.host, str(self.log_path))
            self._log_recorded = True
        if self._stored > self.cap:
            self._trim(tx)

    def _trim(self, tx: Tx) -> None:
        kept = 0
        cut: int | None = None
        for row_id, size in stored.sizes_newest_first(tx, self.action_id):
            kept += size
            if kept > self.cap:
                cut = row_id
                kept -= size
                break
        if cut is not None:
            stored.delete_through(tx, self.action_id, cut)
        self._stored = kept

    def _open_log(self) -> None:
        if self.disk_error is not None:
            return  # the disk failed once already: no file to keep writing to
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a", encoding="utf-8", errors="replace")
        except OSError as exc:
            self._failed(f"cannot create {self.log_path}: {exc.strerror}", exc)
            return
        for _, text in self._buffer:
            self._guarded(self._log.write, text)
            if self._log is None:
                return

    def close(self, tx: Tx | None = None) -> None:
        """Flush what is left (in ``tx`` if given) and close the log file; safe to call twice."""
        for stream, redactor in self._redactors.items():
            self._emit(stream, redactor.flush(), closing=True)
        self._redactors.clear()
        self._closed = True
        if self._log is None and (self.total > self.cap or self.total >= FLUSH_BYTES):
            self._open_log()
        self.flush(tx)
        if self._log is not None:
            self._guarded(self._log.close)
            self._log = None


def stored_output(store: Store, action_id: int) -> str:
    """The output kept in the database for one action (the tail, when it was capped)."""
    text, _ = output_after(store, action_id, 0)
    return text
