"""Another process holding the database's write lock: a write waits and says who holds it; a
write that must not wait (the TUI's) is refused at once, naming the holder. The holder is a real
process with a real transaction open: another agent-tui store (its writers queue on the writers'
lock beside the file) or a plain SQLite client (SQLite's own lock alone)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agent_tui.core.store import Busy, Store
from agent_tui.core.store.connection import BUSY_TIMEOUT_MS, BUSY_WARN_SECONDS

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
print("released", flush=True)
"""
AGENT_TUI_LOCKER = """
import sys, time
from agent_tui.core.store import Store
store = Store(sys.argv[1])
with store.write():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
"""
LOCKERS = {"sqlite3": LOCKER, "agent-tui": AGENT_TUI_LOCKER}


@contextmanager
def locked(store: Store, seconds: float, kind: str = "sqlite3") -> Iterator[subprocess.Popen[str]]:
    """A process (``kind``: a plain SQLite client or an agent-tui store) that holds the write
    lock of ``store``'s file for ``seconds``."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKERS[kind], str(store.path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        yield locker
    finally:
        locker.kill()
        locker.wait()


def notes(store: Store) -> list[str]:
    return [e.message for e in store.events_after(0) if e.kind == "test.note"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("kind", sorted(LOCKERS))
def test_a_write_that_must_not_wait_is_refused_naming_the_holder(store: Store, kind: str) -> None:
    with locked(store, 60, kind) as locker:
        with pytest.raises(Busy) as refused, store.nowait(), store.write() as tx:
            tx.event("test.note", "never written")
        assert refused.value.holders == [locker.pid]
        assert f"is busy (held by pid {locker.pid})" in str(refused.value)
    assert notes(store) == []
    with store.write() as tx:  # the lock is gone, and writes wait again as usual
        tx.event("test.note", "written")
    assert notes(store) == ["written"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("kind", sorted(LOCKERS))
def test_a_long_wait_for_the_lock_is_told_then_cleared(
    store: Store, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    told: list[tuple[bool, list[int]]] = []
    store.busy_hooks.append(lambda busy, holders: told.append((busy, holders)))
    # past SQLite's own busy timeout, after which the store retries, and past the warning's delay
    hold = max(BUSY_TIMEOUT_MS / 1000, BUSY_WARN_SECONDS) + 1.5
    with locked(store, hold, kind) as locker:
        with store.write() as tx:  # waits until the locker lets go
            tx.event("test.note", "written after the wait")
        assert locker.stdout is not None and locker.stdout.readline().strip() == "released"

    assert told == [(True, [locker.pid]), (False, [])]
    assert store.busy_since is None
    assert store.waited_until > float("-inf")  # leases may have lapsed meanwhile: noted
    assert notes(store) == ["written after the wait"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"(held by pid {locker.pid})" in logged and "is free again" in logged
