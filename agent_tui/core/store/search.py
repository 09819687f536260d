"""Full-text search over goals, step outputs, agent transcripts and documents.

The index is one sqlite-utils FTS5 table (``search_docs`` and its ``search_docs_fts``), built
lazily on the first search and brought up to date before each one. Every source is append-only
(goals, output chunks, transcript messages and document versions are inserted, never edited), so
keeping up is "index the rows with an id above the last one indexed", a watermark per source in
``search_state``. Nothing on the executor's write path pays for the index.

Hits come newest first: FTS5 walks its rowids backwards and stops at the limit, which stays fast
on a million rows where ranking every match by relevance would not.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from agent_tui.core.store import Store

BATCH = 20_000
"""Rows indexed per transaction while catching up, so a large backlog never holds the lock long."""

SOURCES: dict[str, str] = {
    "goal": "SELECT g.id AS cursor, g.id AS ref_id, g.id AS goal_id, g.title AS title,"
    " coalesce(g.text, '') AS body FROM goals g WHERE g.id > ? ORDER BY g.id LIMIT ?",
    "output": "SELECT o.id AS cursor, o.action_id AS ref_id, a.goal_id AS goal_id,"
    " s.key AS title, o.text AS body FROM output o JOIN actions a ON a.id = o.action_id"
    " JOIN steps s ON s.id = a.step_id WHERE o.id > ? ORDER BY o.id LIMIT ?",
    "message": "SELECT m.id AS cursor, m.step_id AS ref_id, s.goal_id AS goal_id, s.key AS title,"
    " coalesce(m.content, '') AS body FROM messages m JOIN steps s ON s.id = m.step_id"
    " WHERE m.id > ? ORDER BY m.id LIMIT ?",
    "document": "SELECT d.id AS cursor, d.id AS ref_id, d.goal_id AS goal_id, d.name AS title,"
    " d.content AS body FROM artifacts d WHERE d.id > ? ORDER BY d.id LIMIT ?",
}
"""Each source's rows after a watermark (``cursor``): what a hit points at (``ref_id``: the
goal, the action, the agent step, the document version), its goal, a title and the text."""

KINDS = tuple(SOURCES)


@dataclass(frozen=True)
class Hit:
    """One match: its kind, what it points at (``ref_id``), its goal, a title and a snippet."""

    kind: str
    ref_id: int
    goal_id: int
    goal_title: str
    title: str
    snippet: str


class SearchError(ValueError):
    """A query that cannot be searched (empty, or only punctuation)."""


def ensure_index(store: Store) -> None:
    """Create the index tables on first use (any process may; a second one finds them made)."""
    if store.db["search_docs_fts"].exists():
        return
    try:
        store.conn.execute(
            "CREATE TABLE IF NOT EXISTS search_state (source TEXT PRIMARY KEY,"
            " last_id INTEGER NOT NULL)"
        )
        store.conn.execute(
            "CREATE TABLE IF NOT EXISTS search_docs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
            " ref_id INTEGER NOT NULL, goal_id INTEGER, title TEXT NOT NULL, body TEXT NOT NULL)"
        )
        store.db.table("search_docs").enable_fts(
            ["title", "body"], fts_version="FTS5", create_triggers=True, tokenize="unicode61"
        )
    except sqlite3.OperationalError:
        if not store.db["search_docs_fts"].exists():  # another process made it meanwhile
            raise


def refresh(store: Store, batch: int = BATCH) -> int:
    """Index every row added since the last refresh; return how many were added."""
    ensure_index(store)
    added = 0
    for kind, sql in SOURCES.items():
        while True:
            with store.write() as tx:
                row = tx.one("SELECT last_id FROM search_state WHERE source = ?", (kind,))
                last = row["last_id"] if row else 0
                rows = tx.all(sql, (last, batch))
                if not rows:
                    break
                store.conn.executemany(
                    "INSERT INTO search_docs (kind, ref_id, goal_id, title, body)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(kind, r["ref_id"], r["goal_id"], r["title"], r["body"]) for r in rows],
                )
                tx.execute(
                    "INSERT INTO search_state (source, last_id) VALUES (?, ?)"
                    " ON CONFLICT (source) DO UPDATE SET last_id = excluded.last_id",
                    (kind, rows[-1]["cursor"]),
                )
            added += len(rows)
            if len(rows) < batch:
                break
    return added


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """The user's words as an FTS5 query: every word must occur, the last one as a prefix.

    Quoting each word keeps FTS5's operators (``AND``, ``-``, ``:``, ``"``) from turning a typed
    phrase into a syntax error.
    """
    words = _WORD.findall(text)
    if not words:
        raise SearchError(f"nothing to search for in {text!r}: give a word")
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def search(
    store: Store,
    text: str,
    *,
    limit: int = 50,
    kinds: tuple[str, ...] = KINDS,
    update: bool = True,
) -> list[Hit]:
    """The newest ``limit`` matches of ``text`` among ``kinds``; ``update`` indexes new rows first."""
    query = fts_query(text)
    if update:
        refresh(store)
    else:
        ensure_index(store)
    marks = ", ".join("?" for _ in kinds)
    rows = store.all(
        "SELECT d.kind, d.ref_id, d.goal_id, d.title, coalesce(g.title, '') AS goal_title,"
        " snippet(search_docs_fts, -1, '[', ']', '…', 10) AS snippet"
        " FROM search_docs_fts JOIN search_docs d ON d.id = search_docs_fts.rowid"
        " LEFT JOIN goals g ON g.id = d.goal_id"
        f" WHERE search_docs_fts MATCH ? AND d.kind IN ({marks})"
        " ORDER BY search_docs_fts.rowid DESC LIMIT ?",
        (query, *kinds, limit),
    )
    return [
        Hit(
            kind=r["kind"],
            ref_id=r["ref_id"],
            goal_id=r["goal_id"],
            goal_title=r["goal_title"],
            title=r["title"],
            snippet=" ".join(str(r["snippet"]).split()),
        )
        for r in rows
    ]
