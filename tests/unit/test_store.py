"""The SQLite store: pragmas, migrations, refusal of newer or corrupt files, transactions, events."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from agent_tui.core.states import IllegalTransition
from agent_tui.core.store import StaleState, Store, StoreError
from agent_tui.core.store.schema import SCHEMA_VERSION


@pytest.mark.sqlite_only
def test_pragmas_and_schema(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = set(store.db.table_names())
    for name in (
        "goals",
        "plans",
        "steps",
        "actions",
        "messages",
        "output",
        "artifacts",
        "events",
        "schedules",
        "rules",
        "usage",
        "settings",
        "approvals",
        "workers",
    ):
        assert name in tables


def test_reopening_keeps_data(home: Path) -> None:
    path = home / "db.sqlite"
    first = Store(path)
    first.set_setting("paused", True)
    first.close()
    again = Store(path)
    assert again.setting("paused") is True
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE goals (id INTEGER PRIMARY KEY)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer than this agent-tui"):
        Store(path)
    assert path.read_bytes() == before


def test_corrupt_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database at all, just text" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="corrupt or not an agent-tui database"):
        Store(path)
    assert path.read_bytes() == before


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not agent-tui's"):
        Store(path)
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]


def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)


def test_events_are_published_only_after_commit(store: Store) -> None:
    seen: list[str] = []
    store.listeners.append(lambda e: seen.append(e.kind))
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.event("test.rolled_back", "never")
        raise RuntimeError("boom")
    assert seen == []
    assert store.last_event_id() == 0
    with store.write() as tx:
        tx.event("test.kept", "kept", extra=1)
    assert seen == ["test.kept"]
    [event] = store.events_after(0)
    assert event.kind == "test.kept" and event.data == {"extra": 1}


def test_set_status_checks_the_machine_and_the_current_row(store: Store) -> None:
    with store.write() as tx:
        goal = tx.insert(
            "goals",
            {
                "title": "g",
                "source": "text",
                "status": "queued",
                "workspace": "/tmp",
                "created_at": 0,
                "updated_at": 0,
            },
        )
    with pytest.raises(IllegalTransition), store.write() as tx:
        tx.set_status("goal", goal, "queued", "completed_nope")  # type: ignore[arg-type]
    with pytest.raises(StaleState), store.write() as tx:
        tx.set_status("goal", goal, "running", "paused")
    with store.write() as tx:
        tx.set_status("goal", goal, "queued", "running")
    assert store.one("SELECT status FROM goals WHERE id = ?", (goal,))["status"] == "running"


def test_immediate_transactions_serialise_writers(home: Path) -> None:
    """A second connection's write waits for the first instead of failing at once."""
    path = home / "shared.db"
    a, b = Store(path), Store(path)
    order: list[str] = []
    entered = threading.Event()

    def second() -> None:
        entered.wait()
        with b.write() as tx:
            order.append("b")
            tx.execute("INSERT INTO settings (key, value) VALUES ('b', '1')")

    thread = threading.Thread(target=second)
    thread.start()
    with a.write() as tx:
        entered.set()
        thread.join(0.2)  # b is blocked on our write lock
        order.append("a")
        tx.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
    thread.join(5)
    assert order == ["a", "b"]
    assert a.setting("a") == 1 and a.setting("b") == 1


def test_read_then_write_transactions_lose_no_update(home: Path) -> None:
    """Writers on their own connections each read a counter and write it back plus one, with a
    pause between the read and the write: serialised transactions lose no increment and none
    fails (a deferred transaction would fail at its write, or overwrite another's)."""
    path = home / "counter.db"
    Store(path).set_setting("n", 0)
    writers, rounds = 4, 25
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def increment() -> None:
        store = Store(path)
        try:
            start.wait()
            for _ in range(rounds):
                with store.write() as tx:
                    row = tx.one("SELECT value FROM settings WHERE key = 'n'")
                    assert row is not None
                    time.sleep(0.002)  # widen the window another writer could slip into
                    tx.execute(
                        "UPDATE settings SET value = ? WHERE key = 'n'", (int(row["value"]) + 1,)
                    )
        except BaseException as exc:  # reported below, with the count
            failures.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=increment) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Store(path).setting("n") == writers * rounds


def test_data_version_sees_other_connections(home: Path) -> None:
    path = home / "dv.db"
    a, b = Store(path), Store(path)
    before = a.data_version()
    b.set_setting("x", 1)
    assert a.data_version() != before
    same = a.data_version()
    a.set_setting("y", 2)  # our own commit does not change our data_version
    assert a.data_version() == same


def test_older_schema_is_migrated_forward_keeping_data(tmp_path: Path) -> None:
    from agent_tui.core.store.schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";\n"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO goals (title, source, status, workspace, created_at, updated_at)"
        " VALUES ('kept', 'text', 'queued', '/tmp', 0, 0)"
    )
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    row = store.one("SELECT title, replans, approval_timeout FROM goals")
    assert row == {"title": "kept", "replans": 0, "approval_timeout": None}
