"""Retention: what finished goals leave behind is pruned after ``[retention]``'s days.

Three kinds, each with its own age: the output of a finished goal's actions (the rows in the
database and the log files), its step and action events (the goal's own events stay: created,
started, finished), and the old versions of its documents (the latest stays). Goals are taken in
the order they finished, a few per transaction, and each kind keeps its place (the ``finished_at``
and id of the last goal done) in the settings table, so an hourly pass reads only goals that
finished since the last one. A goal that runs again finishes later, and is pruned again in turn.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_tui.core.store import Record, Store, Tx

BATCH = 20
"""Goals pruned per transaction: each holds the write lock for a few milliseconds."""
FINISHED = "('completed', 'failed', 'cancelled')"
KINDS = {"output": "output_days", "events": "events_days", "documents": "document_versions_days"}
"""Each kind and the ``[retention]`` setting that says how long it is kept."""
EVENT_ROW_BYTES = 48
"""About what an event row costs besides its message and data (ids, time, kind, index entries)."""


@dataclass(frozen=True, slots=True)
class Freed:
    """What pruning removed (or, from :func:`estimate`, would remove)."""

    output_rows: int = 0
    output_bytes: int = 0
    log_files: int = 0
    log_bytes: int = 0
    events: int = 0
    event_bytes: int = 0
    versions: int = 0
    version_bytes: int = 0

    @property
    def database_bytes(self) -> int:
        return self.output_bytes + self.event_bytes + self.version_bytes

    @property
    def total_bytes(self) -> int:
        return self.database_bytes + self.log_bytes

    def __add__(self, other: Freed) -> Freed:
        return Freed(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))


def _values(freed: Freed) -> tuple[int, ...]:
    return tuple(getattr(freed, name) for name in Freed.__slots__)


def _days(settings: Any, kind: str) -> float:
    section = getattr(settings, "retention", None)
    return float(getattr(section, KINDS[kind], 0) or 0)


def _mark(store: Store, kind: str) -> tuple[float, int]:
    finished_at, goal_id = store.setting(f"retention.{kind}", [0.0, 0])
    return float(finished_at), int(goal_id)


def _due(
    store: Store, kind: str, cutoff: float, mark: tuple[float, int], limit: int
) -> list[Record]:
    """Finished goals past ``cutoff`` not yet pruned for ``kind``, in the order they finished."""
    return store.all(
        "SELECT id, finished_at FROM goals WHERE finished_at IS NOT NULL AND finished_at < ?"
        f" AND status IN {FINISHED} AND (finished_at > ? OR (finished_at = ? AND id > ?))"
        " ORDER BY finished_at, id LIMIT ?",
        (cutoff, mark[0], mark[0], mark[1], limit),
    )


def prune(store: Store, settings: Any, now: float, output_dir: Path) -> Freed:
    """Prune every kind whose days are set (0 keeps it forever); returns what went."""
    freed = Freed()
    for kind in KINDS:
        days = _days(settings, kind)
        if days > 0:
            freed += _prune_kind(store, kind, now - days * 86400, output_dir)
    if freed.total_bytes or freed.events or freed.versions:
        with store.write() as tx:
            tx.event(
                "retention.pruned",
                f"retention pruned {_mib(freed.total_bytes)} of finished goals' output, events "
                "and old document versions",
                output_rows=freed.output_rows,
                log_files=freed.log_files,
                events=freed.events,
                versions=freed.versions,
                bytes=freed.total_bytes,
            )
    return freed


def _prune_kind(store: Store, kind: str, cutoff: float, output_dir: Path) -> Freed:
    freed = Freed()
    mark = _mark(store, kind)
    while goals := _due(store, kind, cutoff, mark, BATCH):
        ids = [g["id"] for g in goals]
        mark = (float(goals[-1]["finished_at"]), int(goals[-1]["id"]))
        marks = ", ".join("?" for _ in ids)
        logs: list[int] = []
        with store.write() as tx:
            if kind == "output":
                step, logs = _prune_output(tx, marks, ids)
            elif kind == "events":
                step = _prune_events(tx, marks, ids)
            else:
                step = _prune_versions(tx, marks, ids)
            store.set_setting(f"retention.{kind}", list(mark), tx)
        freed += step
        for action_id in logs:
            freed += _remove_log(output_dir / f"{action_id}.log")
        time.sleep(0)  # let the executor's threads in between transactions
    return freed


def _prune_output(tx: Tx, marks: str, ids: list[int]) -> tuple[Freed, list[int]]:
    actions = [r["id"] for r in tx.all(f"SELECT id FROM actions WHERE goal_id IN ({marks})", ids)]
    row = tx.one(
        "SELECT count(*) AS n, coalesce(sum(length(CAST(text AS BLOB))), 0) AS b FROM output"
        f" WHERE action_id IN (SELECT id FROM actions WHERE goal_id IN ({marks}))",
        ids,
    )
    tx.execute(
        f"DELETE FROM output WHERE action_id IN (SELECT id FROM actions WHERE goal_id IN ({marks}))",
        ids,
    )
    assert row is not None
    return Freed(output_rows=row["n"], output_bytes=row["b"]), actions


def _remove_log(path: Path) -> Freed:
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return Freed()
    return Freed(log_files=1, log_bytes=size)


GOAL_EVENTS = "kind NOT LIKE 'goal.%'"
"""The events retention removes: all but the goal's own (created, started, finished…)."""


def _prune_events(tx: Tx, marks: str, ids: list[int]) -> Freed:
    where = f"goal_id IN ({marks}) AND {GOAL_EVENTS}"
    row = tx.one(
        f"SELECT count(*) AS n, coalesce(sum(length(message) + coalesce(length(data), 0)), 0)"
        f" AS b FROM events WHERE {where}",
        ids,
    )
    tx.execute(f"DELETE FROM events WHERE {where}", ids)
    assert row is not None
    return Freed(events=row["n"], event_bytes=row["b"] + row["n"] * EVENT_ROW_BYTES)


OLD_VERSION = (
    "version < (SELECT max(version) FROM artifacts b WHERE b.goal_id = artifacts.goal_id"
    " AND b.name = artifacts.name)"
)


def _prune_versions(tx: Tx, marks: str, ids: list[int]) -> Freed:
    where = f"goal_id IN ({marks}) AND {OLD_VERSION}"
    row = tx.one(
        "SELECT count(*) AS n, coalesce(sum(length(CAST(content AS BLOB))), 0) AS b"
        f" FROM artifacts WHERE {where}",
        ids,
    )
    tx.execute(f"DELETE FROM artifacts WHERE {where}", ids)
    assert row is not None
    return Freed(versions=row["n"], version_bytes=row["b"])


def estimate(store: Store, settings: Any, now: float, output_dir: Path | None = None) -> Freed:
    """What :func:`prune` would remove now, read without writing (for ``doctor``)."""
    freed = Freed()
    for kind in KINDS:
        days = _days(settings, kind)
        if days <= 0:
            continue
        mark = _mark(store, kind)
        due = (
            "SELECT id FROM goals WHERE finished_at IS NOT NULL AND finished_at < ?"
            f" AND status IN {FINISHED} AND (finished_at > ? OR (finished_at = ? AND id > ?))"
        )
        params = (now - days * 86400, mark[0], mark[0], mark[1])
        if kind == "output":
            row = store.one(
                "SELECT count(*) AS n, coalesce(sum(length(CAST(o.text AS BLOB))), 0) AS b"
                " FROM output o JOIN actions a ON a.id = o.action_id"
                f" WHERE a.goal_id IN ({due})",
                params,
            )
            assert row is not None
            freed += Freed(output_rows=row["n"], output_bytes=row["b"])
            if output_dir is not None:
                freed += _logs_of(store, output_dir, due, params)
        elif kind == "events":
            row = store.one(
                "SELECT count(*) AS n, coalesce(sum(length(message) + coalesce(length(data), 0)),"
                f" 0) AS b FROM events WHERE goal_id IN ({due}) AND {GOAL_EVENTS}",
                params,
            )
            assert row is not None
            freed += Freed(events=row["n"], event_bytes=row["b"] + row["n"] * EVENT_ROW_BYTES)
        else:
            row = store.one(
                "SELECT count(*) AS n, coalesce(sum(length(CAST(content AS BLOB))), 0) AS b"
                f" FROM artifacts WHERE goal_id IN ({due}) AND {OLD_VERSION}",
                params,
            )
            assert row is not None
            freed += Freed(versions=row["n"], version_bytes=row["b"])
    return freed


def _logs_of(store: Store, output_dir: Path, due: str, params: tuple[Any, ...]) -> Freed:
    """The log files (few: only long actions have one) of actions of the goals ``due`` selects."""
    sizes: dict[int, int] = {}
    try:
        with os.scandir(output_dir) as entries:
            for entry in entries:
                stem, _, ext = entry.name.partition(".")
                if ext == "log" and stem.isdigit():
                    sizes[int(stem)] = entry.stat().st_size
    except FileNotFoundError:
        return Freed()
    found = Freed()
    ids = sorted(sizes)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in store.all(
            f"SELECT id FROM actions WHERE id IN ({marks}) AND goal_id IN ({due})",
            (*chunk, *params),
        ):
            found += Freed(log_files=1, log_bytes=sizes[row["id"]])
    return found


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def database_sizes(store: Store) -> dict[str, int]:
    """The file's size, the WAL's, and the pages free inside it (what ``vacuum`` returns); on
    PostgreSQL the database's size on the server (it has no WAL of its own, and its free space
    is reused by autovacuum)."""
    if store.dialect == "postgresql":
        row = store.execute("SELECT pg_database_size(current_database())").fetchone()
        return {"database_bytes": int(row[0]), "wal_bytes": 0, "free_bytes": 0}
    page = int(store.conn.execute("PRAGMA page_size").fetchone()[0])
    free = int(store.conn.execute("PRAGMA freelist_count").fetchone()[0])
    wal = store.path.with_name(store.path.name + "-wal")
    return {
        "database_bytes": store.path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "free_bytes": page * free,
    }


def storage(store: Store, settings: Any, now: float, output_dir: Path) -> dict[str, Any]:
    """Sizes for ``doctor``: the database, the output logs, and what retention would free now."""
    logs = 0
    files = 0
    try:
        with os.scandir(output_dir) as entries:
            for entry in entries:
                if entry.is_file():
                    logs += entry.stat().st_size
                    files += 1
    except FileNotFoundError:
        pass
    freed = estimate(store, settings, now, output_dir)
    return {
        **database_sizes(store),
        "auto_vacuum": _auto_vacuum(store),
        "outputs_bytes": logs,
        "outputs_files": files,
        "retention_would_free": {
            "bytes": freed.total_bytes,
            "output_rows": freed.output_rows,
            "log_files": freed.log_files,
            "events": freed.events,
            "document_versions": freed.versions,
        },
    }


def _auto_vacuum(store: Store) -> str:
    if store.dialect == "postgresql":
        return "server"
    return ("none", "full", "incremental")[
        int(store.conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    ]


def vacuum(store: Store, *, pages_per_step: int = 2048) -> tuple[str, int]:
    """Return free pages to the file system; ``(mode, bytes freed)``.

    A database made with incremental auto-vacuum (every new one) gives its free pages back a
    few megabytes at a time, each step its own short transaction. An older one is rewritten
    whole by ``VACUUM`` (which also makes it incremental from then on): that takes free disk
    space as large as the file and holds the database for as long as it runs.

    On PostgreSQL, a plain ``VACUUM`` of agent-tui's tables (``server``): their dead rows become
    space the server reuses, without locking anyone out.
    """
    if store.dialect == "postgresql":
        before = database_sizes(store)["database_bytes"]
        store.execute("VACUUM (ANALYZE)")
        return "server", before - database_sizes(store)["database_bytes"]
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    before = store.path.stat().st_size
    mode = int(store.conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    if mode == 2:
        while int(store.conn.execute("PRAGMA freelist_count").fetchone()[0]):
            store.conn.execute(f"PRAGMA incremental_vacuum({pages_per_step})").fetchall()
        kind = "incremental"
    else:
        store.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        store.conn.execute("VACUUM")
        kind = "full"
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return kind, before - store.path.stat().st_size


def incremental(store: Store) -> bool:
    """Whether the database vacuums incrementally (made so), or must be rewritten once first."""
    if store.dialect == "postgresql":
        return True
    return int(store.conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == 2
