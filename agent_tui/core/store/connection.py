"""The SQLite store: one file, WAL, explicit ``BEGIN IMMEDIATE`` write transactions, an event journal.

All writes go through :meth:`Store.write`, a ``BEGIN IMMEDIATE`` transaction: a read-then-write in a
deferred transaction fails at once under contention, an immediate one waits for ``busy_timeout``.
Events appended inside a transaction reach the in-process listeners only after it commits.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from agent_tui.core import secrets
from agent_tui.core.secrets import Redactor
from agent_tui.core.states import check
from agent_tui.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from agent_tui.core.store.writer_lock import WriterLock

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import sqlite_utils

    from agent_tui.core.store.wakes import Wakes

Row = Mapping[str, Any]
"""A row as read: a mapping of column to value (a fresh dict, or a typed row of :mod:`.rows`)."""
Record = dict[str, Any]
"""A row fresh from a query: the caller's own copy, free to change."""


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Event:
    """One journal row: a state change or a notable fact."""

    id: int
    ts: float
    kind: str
    message: str
    goal_id: int | None = None
    step_id: int | None = None
    action_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


@dataclass
class Tx:
    """An open write transaction: the connection plus the events it appended."""

    store: Store
    now: float
    events: list[Event] = field(default_factory=list)

    def execute(self, sql: str, params: Any = ()) -> Any:
        redactor = self.store.redactor
        if redactor and params:
            if isinstance(params, dict):
                params = {
                    k: redactor.redact(v) if isinstance(v, str) else v for k, v in params.items()
                }
            else:
                params = [redactor.redact(v) if isinstance(v, str) else v for v in params]
        return self.store.execute(sql, params)

    def one(self, sql: str, params: Any = ()) -> Record | None:
        return self.store.one(sql, params)

    def all(self, sql: str, params: Any = ()) -> list[Record]:
        return self.store.all(sql, params)

    def insert(self, table: str, row: Row) -> int:
        """Insert a row; its new id."""
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return self.store.inserted_id(
            self.execute(
                f"INSERT INTO {table} ({cols}) VALUES ({marks}){self.store.returning_id}",
                list(row.values()),
            )
        )

    def event(
        self,
        kind: str,
        message: str,
        *,
        goal_id: int | None = None,
        step_id: int | None = None,
        action_id: int | None = None,
        **data: Any,
    ) -> None:
        if self.store.redactor:
            message = self.store.redactor.redact(message)
            data = self.store.redactor.redact_value(data)
        payload = json.dumps(data, default=str) if data else None
        cur = self.execute(
            "INSERT INTO events (ts, kind, goal_id, step_id, action_id, message, data)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?){self.store.returning_id}",
            (self.now, kind, goal_id, step_id, action_id, message, payload),
        )
        event_id = self.store.inserted_id(cur)
        self.events.append(
            Event(event_id, self.now, kind, message, goal_id, step_id, action_id, data)
        )

    def set_status(self, kind: str, row_id: int, old: str, new: str, **fields: Any) -> None:
        """Change a goal, step or action status after checking the state machine."""
        check(kind, old, new)
        table = {"goal": "goals", "step": "steps", "action": "actions"}[kind]
        fields["status"] = new
        if kind != "action":
            fields["updated_at"] = self.now
        sets = ", ".join(f"{k} = ?" for k in fields)
        cur = self.execute(
            f"UPDATE {table} SET {sets} WHERE id = ? AND status = ?",
            [*fields.values(), row_id, old],
        )
        if cur.rowcount != 1:
            raise StaleState(f"{kind} {row_id} is no longer {old}")


CHECK_BUDGET = 1.0
"""Seconds the integrity check on open may take; a larger file is checked in part."""
CHECK_WHOLE_BYTES = 64 * 2**20
"""Files up to this size are checked whole on open (some 50 ms); a larger one only its schema,
because SQLite checks a table in one step that no budget can stop, and opening must not cost
more as history grows (``agent-tui doctor`` checks it whole)."""
BUSY_WARN_SECONDS = 3.0
"""How long a wait for the write lock lasts before it is said."""
STALL_SECONDS = 0.5
"""A wait for the write lock this long may have kept other processes from renewing their leases."""


def is_full(exc: BaseException) -> bool:
    """Whether a write failed because the disk (or the database's size limit) is full."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite gave up because another connection holds a lock."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def lock_holders(path: Path) -> list[int]:
    """Other processes holding POSIX locks on the database or its ``-shm``/``-wal``, from
    ``/proc/locks`` (Linux); empty where that cannot be told."""
    inodes = set()
    for candidate in (path, path.with_name(path.name + "-shm"), path.with_name(path.name + "-wal")):
        try:
            inodes.add(candidate.stat().st_ino)
        except OSError:
            pass
    pids: list[int] = []
    try:
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 6 or fields[1] != "POSIX":
                    continue
                pid, where = fields[4], fields[5].split(":")
                mine = int(pid) == os.getpid() or int(pid) in pids
                if len(where) == 3 and int(where[2]) in inodes and not mine:
                    pids.append(int(pid))
    except (OSError, ValueError):
        return []
    return pids


class Away(StoreError):
    """The database server cannot be reached (it stopped, or the network is down); the next use
    of the store tries again."""


class Busy(StoreError):
    """Another process holds the write lock, and this connection was told not to wait for it."""

    def __init__(self, path: Path, holders: list[int]) -> None:
        who = f" (held by pid {', '.join(map(str, holders))})" if holders else ""
        super().__init__(f"the database {path} is busy{who}")
        self.holders = holders


NOWAIT_MS = 50
"""How long a write in :meth:`Store.nowait` mode waits for the lock before it raises :class:`Busy`."""
BUSY_TIMEOUT_MS = 5000


def default_redactor(redactor: Redactor | None) -> Redactor:
    """The redactor a store is given, or (opened without :func:`open_store`) one that knows
    only credential-like names."""
    return redactor if redactor is not None else secrets.from_environment()


class StaleState(Exception):
    """A row changed under us (another process moved it first); the transaction is rolled back."""


class Store:
    """A connection to the agent-tui database with migrations, transactions and the event journal."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        redactor: Redactor | None = None,
    ) -> None:
        """Open (creating or migrating) the database; front ends use :func:`open_store`, whose
        redactor knows the config's ``[secrets] names`` (without one, only credential-like
        names are redacted)."""
        self.path = Path(path)
        self.address: str = str(self.path)
        """What :func:`open_store` opens this database again by: the file, or the url."""
        self.clock = clock
        self.listeners: list[Listener] = []
        self.busy_since: float | None = None
        """When this process started waiting for another's write lock (``None``: not waiting)."""
        self.busy_hooks: list[Callable[[bool, list[int]], None]] = []
        """Told ``(True, holder pids)`` once a wait passes the warning time, ``(False, [])`` after."""
        self.full_since: float | None = None
        """Since when writes fail because the disk is full (said once in the log), or ``None``."""
        self.waited_until = float("-inf")
        """When (store clock) this process last got the write lock after a wait of at least
        :data:`STALL_SECONDS`: other processes could not renew their leases meanwhile either."""
        self.redactor: Redactor = default_redactor(redactor)
        self._nowait = False
        self.stopping = False
        """Set by a process that is stopping: a database server that went away is not waited
        for (PostgreSQL; a SQLite file is never away)."""
        self.patience = 0.0
        """How long one use waits for a database server that went away (PostgreSQL's store;
        a SQLite file is never away)."""
        self._writer = WriterLock(self.path)
        self.conn = self._connect()
        self._migrate()

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The same connection through sqlite-utils (full-text search tables), made on first use:
        importing sqlite-utils costs more than most commands spend on their work."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def _connect(self) -> sqlite3.Connection:
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"database path {self.path} is a directory, not a file")
        if self.path.exists() and self.path.stat().st_size > 0:
            self._check_damage()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self._refuse_newer(conn)
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                # Only a new file can take it; `agent-tui vacuum` then frees pages without a copy.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"database {self.path} cannot use WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"database {self.path} is corrupt or not an agent-tui database ({exc}); "
                "it was left untouched: move it aside to start afresh"
            ) from None
        return conn

    def _check_damage(self) -> None:
        """``PRAGMA quick_check`` on a read-only connection before anything writes to the file.

        A damaged file is refused with how to recover it, and never written to (even the WAL
        switch writes). A file larger than :data:`CHECK_WHOLE_BYTES` has its schema checked,
        and the check stops after :data:`CHECK_BUDGET` seconds (``agent-tui doctor`` runs it
        whole).
        """
        wal = self.path.with_name(self.path.name + "-wal")
        shm = self.path.with_name(self.path.name + "-shm")
        wal_missing = shm.exists() and not wal.exists()  # before the probe, which may make one
        try:
            probe = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error:
            return  # unreadable here: the writer's own open says why
        deadline = time.monotonic() + CHECK_BUDGET
        probe.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            whole = self.path.stat().st_size <= CHECK_WHOLE_BYTES
            found = probe.execute(
                "PRAGMA quick_check" if whole else "PRAGMA quick_check(sqlite_schema)"
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupt" in str(exc).lower() or is_busy(exc):
                return  # out of time, or another process holds it: not known to be damaged
            found = [(str(exc),)]
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                return  # not SQLite at all: the writer's own open refuses it and says so
            found = [(str(exc),)]
        finally:
            probe.close()
        if found and found[0][0] == "ok":
            return
        first = found[0][0] if found else "no answer"
        if "i/o error" in first.lower() and wal_missing:
            self._refuse_missing_wal()
        raise StoreError(
            f"database {self.path} is damaged ({first}); it was left untouched. Recover what can "
            f"be read into a new file: sqlite3 {self.path} .recover | sqlite3 recovered.db (the sqlite3 program: "
            "apt install sqlite3), then "
            "move the damaged file aside and the recovered one in its place"
        )

    def _refuse_missing_wal(self) -> NoReturn:
        """The write-ahead log was deleted from under the database (its ``-shm`` index was there,
        the ``-wal`` was not, and reading failed): say that, not "damaged", and what to do, which
        depends on whether a process still has it open (its copy of the log is then not lost)."""
        wal = self.path.with_name(self.path.name + "-wal")
        shm = self.path.with_name(self.path.name + "-shm")
        holders = lock_holders(self.path)
        if holders:
            pids = ", ".join(map(str, holders))
            raise StoreError(
                f"the write-ahead log of database {self.path} ({wal.name}) is missing while "
                f"another process (pid {pids}) has the database open: it was deleted from under "
                "it. Nothing was written. Stop that process cleanly (q, or Ctrl+C for a worker): "
                "it still holds the log and writes it back when it closes; then start again"
            )
        raise StoreError(
            f"the write-ahead log of database {self.path} ({wal.name}) is missing: it was "
            f"deleted, and the changes it held since the last checkpoint are lost. Nothing was "
            f"written. To open the database as of that checkpoint, move {shm} aside"
        )

    def _refuse_newer(self, conn: sqlite3.Connection) -> None:
        """Refuse a newer schema before anything (even the WAL switch) writes to the file."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this agent-tui "
                f"understands ({SCHEMA_VERSION}); upgrade agent-tui. The file was left untouched."
            )
        foreign = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if version == 0 and foreign:
            conn.close()
            raise StoreError(
                f"database {self.path} holds tables that are not agent-tui's; it was left "
                "untouched: point AGENT_TUI_DB elsewhere or move the file aside"
            )

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        while version < SCHEMA_VERSION:
            self._begin()
            try:
                current = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if current == version:
                    for statement in MIGRATIONS[version].split(";\n"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version = {version + 1}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            finally:
                self._release()
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
        self._writer.close()

    @property
    def shown(self) -> str:
        """The database as said to a user (a url without its password)."""
        return str(self.path)

    def reopen(self, *, clock: Callable[[], float] | None = None) -> Store:
        """Another connection to the same database, with the same redactor and clock (or
        ``clock``)."""
        return Store(self.path, clock=clock or self.clock, redactor=self.redactor)

    # -- transactions and events ------------------------------------------------------------

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``, waiting as long as another process holds the write lock.

        SQLite gives up after ``busy_timeout``; a busy database is a wait, never a failure, so
        this tries again with backoff for as long as the process lives. After
        :data:`BUSY_WARN_SECONDS` it says so (log, and ``busy_since`` for the UI), naming the
        processes that hold locks on the file where ``/proc/locks`` tells.
        """
        started = time.monotonic()
        if not self._writer.acquire(
            nowait_seconds=NOWAIT_MS / 1000 if self._nowait else None,
            slow_after=BUSY_WARN_SECONDS,
            slow=self._slow_turn,
        ):
            raise Busy(self.path, lock_holders(self.path))
        try:
            self._begin_immediate(started)
        except BaseException:
            self._release()
            raise

    def _slow_turn(self, waited: float) -> None:
        """Another agent-tui writer has held the lock for :data:`BUSY_WARN_SECONDS` while this
        one waits its turn (called from the lock's timer thread): say so."""
        holders = lock_holders(self.path)
        who = f" (held by pid {', '.join(map(str, holders))})" if holders else ""
        log.warning("waiting for another writer of the database %s%s", self.path, who)
        self._tell_waiting(waited, holders)

    def _release(self) -> None:
        """Give the writers' lock (:mod:`.writer_lock`) to the next writer."""
        self._writer.release()

    def _begin_immediate(self, started: float) -> None:
        """``BEGIN IMMEDIATE``, waiting (SQLite's busy handler, then backoff) for a writer that
        does not take the writers' lock."""
        delay = 0.05
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if self._nowait:
                    raise Busy(self.path, lock_holders(self.path)) from None
                now = time.monotonic()
                if self.busy_since is None and now - started >= BUSY_WARN_SECONDS:
                    holders = lock_holders(self.path)
                    who = f" (held by pid {', '.join(map(str, holders))})" if holders else ""
                    log.warning("waiting for the database %s%s: %s", self.path, who, exc)
                    self._tell_waiting(now - started, holders)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if time.monotonic() - started >= STALL_SECONDS:
                self.waited_until = self.clock()
            if self.busy_since is not None:
                waited = self._tell_free()
                log.warning("the database %s is free again after %.1f s", self.path, waited)
            return

    def _tell_waiting(self, waited: float, holders: list[int]) -> None:
        """This process has waited ``waited`` seconds for the database: note since when, and
        tell the busy hooks (who holds it, where that can be told)."""
        self.busy_since = time.time() - waited
        for hook in list(self.busy_hooks):
            hook(True, holders)

    def _tell_free(self) -> float:
        """The wait is over: tell the busy hooks; how many seconds it lasted."""
        waited = time.time() - self.busy_since if self.busy_since is not None else 0.0
        self.busy_since = None
        for hook in list(self.busy_hooks):
            hook(False, [])
        return waited

    @contextmanager
    def nowait(self) -> Iterator[None]:
        """Writes inside raise :class:`Busy` after :data:`NOWAIT_MS` instead of waiting for
        another process's lock: for a caller that must never block (the TUI's event loop), which
        then does the write where waiting is harmless."""
        self._nowait = True
        self.conn.execute(f"PRAGMA busy_timeout = {NOWAIT_MS}")
        try:
            yield
        finally:
            self._nowait = False
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @cached_property
    def wakes(self) -> Wakes:
        """How this database's other processes are told of a commit (:mod:`.wakes`)."""
        from agent_tui.core.store.wakes import Doorbell

        return Doorbell(self.path)

    @contextmanager
    def write(self, *, ring: bool = True) -> Iterator[Tx]:
        """A ``BEGIN IMMEDIATE`` transaction; its events are published after the commit, and
        other processes are rung (``ring=False``: a write no other process waits for, such as a
        lease renewal)."""
        self._begin()
        tx = Tx(self, self.clock())
        try:
            yield tx
            self._commit(ring)
        except BaseException as exc:
            if self.in_transaction:  # a failed COMMIT may leave it open
                self.execute("ROLLBACK")
            self._release()
            self._note_full(exc)
            raise
        if self.full_since is not None:
            log.warning(
                "the disk holding %s has room again after %.0f s",
                self.path,
                time.time() - self.full_since,
            )
            self.full_since = None
        self.publish(tx.events)

    def _commit(self, ring: bool) -> None:
        """Commit the open transaction, give the next writer its turn; then, with ``ring``,
        tell the other processes."""
        self.execute("COMMIT")
        self._release()
        if ring:
            self.wakes.ring()

    def _note_full(self, exc: BaseException) -> None:
        """Say once, not at every write, that the disk is full (each write still fails)."""
        if self.full_since is None and is_full(exc):
            self.full_since = time.time()
            log.error(
                "the disk holding %s is full (%s): writes wait for space; free some and work "
                "goes on by itself",
                self.path,
                exc,
            )

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this store's connection."""
        return self.conn.in_transaction

    def publish(self, events: list[Event]) -> None:
        for event in events:
            for listener in list(self.listeners):
                listener(event)

    def data_version(self) -> int:
        """Changes when another connection commits; 4 µs a call."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- reading ----------------------------------------------------------------------------

    dialect = "sqlite"
    """Which SQL this store speaks: a module whose statement cannot be written once for every
    backend branches on it (few do: see :mod:`.postgres`)."""
    returning_id = ""
    """Appended to an ``INSERT`` whose new id :meth:`inserted_id` reads."""

    def execute(self, sql: str, params: Any = ()) -> Any:
        """Run one statement on this store's connection; its cursor (rows by name and index)."""
        return self.conn.execute(sql, params)

    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for each row of parameters (in the open transaction)."""
        self.conn.executemany(sql, rows)

    def inserted_id(self, cursor: Any) -> int:
        """The id the ``INSERT`` that made ``cursor`` gave its row."""
        return int(cursor.lastrowid or 0)

    def _one(self, sql: str, params: Any = ()) -> Record | None:
        row = self.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: Any = ()) -> list[Record]:
        return [dict(r) for r in self.execute(sql, params).fetchall()]

    one = _one
    all = _all

    def events_after(self, event_id: int, limit: int = 1000) -> list[Event]:
        rows = self._all("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (event_id, limit))
        return [_event(r) for r in rows]

    def last_event_id(self) -> int:
        row = self.execute("SELECT max(id) FROM events").fetchone()
        return int(row[0] or 0)

    def setting(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(row["value"]) if row else default

    def set_setting(self, key: str, value: Any, tx: Tx | None = None) -> None:
        sql = (
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
        if tx is not None:
            tx.execute(sql, (key, json.dumps(value)))
            return
        with self.write() as own:
            own.execute(sql, (key, json.dumps(value)))


def _event(row: Row) -> Event:
    return Event(
        row["id"],
        row["ts"],
        row["kind"],
        row["message"],
        row["goal_id"],
        row["step_id"],
        row["action_id"],
        json.loads(row["data"]) if row["data"] else {},
    )


def loads(value: str | None, default: Any = None) -> Any:
    """Decode a JSON column, tolerating NULL."""
    return json.loads(value) if value else default
