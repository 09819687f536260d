"""Copying a whole database to another backend (``agent-tui migrate --to postgresql://…``).

Every table agent-tui keeps (goals and their history, documents, rules, schedules, usage, settings)
is copied row for row with its ids, in one transaction on the target: a copy that fails leaves the
target as it was. A target that already holds work is refused. After the copy the target's id
sequences continue past the copied ids, and each table's row count is compared with the source's.
Not copied: the ``workers`` table (live processes, which register again) and the search index
(rebuilt on the first search).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from agent_tui.core.store import Store, StoreError

TABLES = (
    "schedules",
    "goals",
    "plans",
    "steps",
    "step_deps",
    "actions",
    "messages",
    "output",
    "artifacts",
    "approvals",
    "events",
    "rules",
    "usage",
    "settings",
    "checkpoints",
)
"""In an order where every row's references are copied before it."""
LATER = {"checkpoints": "undone_by"}
"""Columns that may point at a later row of their own table: set once every row is in."""
WITH_IDS = tuple(t for t in TABLES if t not in ("step_deps", "settings"))
BATCH = 2000


def _rows(
    store: Store, table: str, batch: int
) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """The table's rows in id order, a batch at a time, with its column names."""
    order = "rowid" if store.dialect == "sqlite" else "1"
    cursor = store.execute(f"SELECT * FROM {table} ORDER BY {order}")
    names = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(batch):
        yield names, [tuple(r) for r in rows]


def counts(store: Store) -> dict[str, int]:
    """Rows per copied table."""
    return {t: int(store.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def copy_database(
    source: Store,
    target: Store,
    *,
    progress: Callable[[str, int], None] | None = None,
    batch: int = BATCH,
) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; the rows per table, verified."""
    held = {t: n for t, n in counts(target).items() if n and t != "settings"}
    if held:
        what = ", ".join(f"{n} {t}" for t, n in held.items())
        raise StoreError(
            f"the database {target.shown} is not empty ({what}); agent-tui copies only into an "
            "empty database, so nothing is overwritten or merged"
        )
    with target.write(ring=False) as tx:
        tx.execute("DELETE FROM settings")
        for table in TABLES:
            later = LATER.get(table)
            copied = 0
            pending: list[tuple[Any, Any]] = []
            for names, rows in _rows(source, table, batch):
                if later:
                    at = names.index(later)
                    pending += [(r[at], r[names.index("id")]) for r in rows if r[at] is not None]
                    rows = [(*r[:at], None, *r[at + 1 :]) for r in rows]
                marks = ", ".join("?" for _ in names)
                target.execute_many(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows
                )
                copied += len(rows)
                if progress:
                    progress(table, copied)
            if later and pending:
                target.execute_many(f"UPDATE {table} SET {later} = ? WHERE id = ?", pending)
        if target.dialect == "postgresql":
            for table in WITH_IDS:
                tx.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
    found, expected = counts(target), counts(source)
    if found != expected:
        wrong = ", ".join(f"{t}: {found[t]} of {n}" for t, n in expected.items() if found[t] != n)
        raise StoreError(f"the copy to {target.shown} does not match its source ({wrong})")
    return found
