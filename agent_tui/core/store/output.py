"""Actions' output kept in the database (``output``): batches appended, the oldest trimmed.

Reading it is :func:`.panes.output_after`; the whole stream lives in the log files, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from agent_tui.core.store import Store, Tx


def in_transaction(store: Store) -> bool:
    """Whether a transaction is open on the store's connection (a batch then waits)."""
    return store.in_transaction


def append(tx: Tx, action_id: int, rows: Iterable[tuple[str, str]]) -> None:
    """Store ``(stream, text)`` chunks of an action's output, in order."""
    for stream, text in rows:
        tx.execute(
            "INSERT INTO output (action_id, stream, text, created_at) VALUES (?, ?, ?, ?)",
            (action_id, stream, text, tx.now),
        )


def set_output_bytes(tx: Tx, action_id: int, total: int) -> None:
    """Record how many bytes the action has written in all (kept or not)."""
    tx.execute("UPDATE actions SET output_bytes = ? WHERE id = ?", (total, action_id))


def set_output_log(tx: Tx, action_id: int, host: str, path: str) -> None:
    """Record where the action's whole output is: a file on ``host`` (viewers may be elsewhere)."""
    tx.execute(
        "UPDATE actions SET output_host = ?, output_log = ? WHERE id = ?", (host, path, action_id)
    )


def sizes_newest_first(tx: Tx, action_id: int) -> Iterator[tuple[int, int]]:
    """``(row id, bytes)`` of an action's stored chunks, newest first, read as iterated."""
    for row in tx.execute(
        "SELECT id, length(CAST(text AS BLOB)) AS n FROM output WHERE action_id = ?"
        " ORDER BY id DESC",
        (action_id,),
    ):
        yield row["id"], row["n"]


def delete_through(tx: Tx, action_id: int, last_id: int) -> None:
    """Drop an action's stored chunks up to and including row ``last_id``."""
    tx.execute("DELETE FROM output WHERE action_id = ? AND id <= ?", (action_id, last_id))
