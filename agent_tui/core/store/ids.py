"""Ids for shell completion, read straight from the file: read-only, never waiting, never failing.

It imports nothing of the rest of the store, so completing an id stays fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

ID_QUERIES = {
    "goals": "SELECT id FROM goals WHERE archived = 0 ORDER BY id DESC LIMIT 500",
    "approvals": "SELECT id FROM approvals WHERE status = 'pending' ORDER BY id",
}
"""What each kind of id completes from: goals not archived (newest first), pending approvals."""


def ids(db: Path | str, kind: str) -> list[str]:
    """The ids of ``kind`` in ``db`` (a SQLite file, or a ``postgresql://`` url), or none if it
    cannot be read (missing, locked, old, a server away)."""
    if isinstance(db, str):
        return _server_ids(db, kind)
    if not db.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return []
    try:
        return [str(row[0]) for row in conn.execute(ID_QUERIES[kind])]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def _server_ids(url: str, kind: str) -> list[str]:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return [str(row[0]) for row in conn.execute(ID_QUERIES[kind])]
    except psycopg.Error:
        return []
