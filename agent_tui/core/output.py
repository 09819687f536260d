"""Batched, capped storage of a running action's output, plus the full stream in a log file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import IO

from agent_tui.core.events import OutputChunk
from agent_tui.core.store import Store

FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 0.1


class OutputWriter:
    """Collects ``(stream, text)`` chunks; writes them to the database at most ~10 times a second.

    The database keeps the last ``cap`` bytes of each action; ``<log_dir>/<action id>.log`` keeps all.
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
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{action_id}.log"
        self._log: IO[str] | None = self.log_path.open("a", encoding="utf-8", errors="replace")

    def emit(self, stream: str, text: str) -> None:
        if not text:
            return
        self._buffer.append((stream, text))
        size = len(text.encode("utf-8", "replace"))
        self._pending += size
        self.total += size
        if self._log is not None:
            self._log.write(text)
        if self.on_chunk is not None:
            self.on_chunk(OutputChunk(self.goal_id, self.step_id, self.action_id, stream, text))
        if self._pending >= FLUSH_BYTES:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def _rows(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for stream, text in self._buffer:
            if rows and rows[-1][0] == stream:
                rows[-1] = (stream, rows[-1][1] + text)
            else:
                rows.append((stream, text))
        return [(stream, text[-self.cap :]) for stream, text in rows]

    def flush(self) -> None:
        """Write what is buffered in one transaction and trim the stored output to the cap."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._log is not None:
            self._log.flush()
        if not self._buffer:
            return
        rows = self._rows()
        self._buffer.clear()
        self._stored += self._pending
        self._pending = 0
        with self.store.write() as tx:
            for stream, text in rows:
                tx.execute(
                    "INSERT INTO output (action_id, stream, text, created_at) VALUES (?, ?, ?, ?)",
                    (self.action_id, stream, text, tx.now),
                )
            tx.execute(
                "UPDATE actions SET output_bytes = ? WHERE id = ?", (self.total, self.action_id)
            )
            if self._stored > self.cap:
                self._trim(tx)

    def _trim(self, tx: object) -> None:
        kept = 0
        cut: int | None = None
        for row in self.store.conn.execute(
            "SELECT id, length(CAST(text AS BLOB)) AS n FROM output WHERE action_id = ?"
            " ORDER BY id DESC",
            (self.action_id,),
        ):
            kept += row["n"]
            if kept > self.cap:
                cut = row["id"]
                kept -= row["n"]
                break
        if cut is not None:
            self.store.conn.execute(
                "DELETE FROM output WHERE action_id = ? AND id <= ?", (self.action_id, cut)
            )
        self._stored = kept

    def close(self) -> None:
        self.flush()
        if self._log is not None:
            self._log.close()
            self._log = None


def stored_output(store: Store, action_id: int) -> str:
    """The output kept in the database for one action (the tail, when it was capped)."""
    rows = store.conn.execute(
        "SELECT text FROM output WHERE action_id = ? ORDER BY id", (action_id,)
    )
    return "".join(r["text"] for r in rows)
