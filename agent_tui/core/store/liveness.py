"""Whether an executor process is alive: its heartbeat, and on this host its pid and start time.

A heartbeat says a process was alive a moment ago; on the same host the kernel says for certain. A
process that is gone (or whose pid now belongs to another process, started after it) is dead at
once: its steps need not wait for their leases to expire.
"""

from __future__ import annotations

import json
import os
import socket
from functools import cache

from agent_tui.core.store import Record, Row, Store, Tx

STALE_SECONDS = 20.0
"""A heartbeat older than this means the executor is gone (idle executors beat every 10 s)."""
IDLE_BEAT_SECONDS = 10.0
"""How often an executor that holds no lease says it is alive."""


@cache
def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def process_started_at(pid: int) -> float | None:
    """When process ``pid`` started (wall clock), from ``/proc``; ``None`` if unknown or gone."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if boot is None or len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def local_process_alive(pid: int, registered_at: float) -> bool:
    """Whether ``pid`` on this host is the process that registered at ``registered_at``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = process_started_at(pid)
    if started is None:
        return os.path.exists(f"/proc/{pid}") or not os.path.isdir("/proc")
    return started <= registered_at + 2.0  # a later start: the pid was reused


def worker_alive(row: Row, now: float) -> bool:
    """Whether the executor of a ``workers`` row runs: alive here, or beating elsewhere."""
    if row["host"] == socket.gethostname():
        return local_process_alive(int(row["pid"]), float(row["started_at"])) and (
            row["heartbeat_at"] > now - 3600
        )
    return bool(row["heartbeat_at"] > now - STALE_SECONDS)


def live_workers(store: Store) -> list[Record]:
    """The executors running now."""
    now = store.clock()
    rows = store.all("SELECT * FROM workers ORDER BY started_at")
    return [r for r in rows if worker_alive(r, now)]


def dead_local_owners(store: Store) -> list[str]:
    """Owners of running steps that were processes of this host and are gone."""
    host = socket.gethostname()
    rows = store.all(
        "SELECT DISTINCT w.* FROM steps s JOIN workers w ON w.id = s.lease_owner"
        " WHERE s.status = 'running' AND w.host = ?",
        (host,),
    )
    gone = [r["id"] for r in rows if not local_process_alive(int(r["pid"]), r["started_at"])]
    orphans = store.all(
        "SELECT DISTINCT lease_owner FROM steps WHERE status = 'running' AND lease_owner LIKE ?"
        " AND lease_owner NOT IN (SELECT id FROM workers)",
        (f"{host}:%",),
    )
    return gone + [r["lease_owner"] for r in orphans]


def process_record(pid: int) -> str:
    """A command's process as stored on its action: this host, the pid and its start time."""
    return json.dumps(
        {"host": socket.gethostname(), "pid": pid, "started": process_started_at(pid)}
    )


def command_still_running(record: str | None) -> int | None:
    """The pid of an action's command if it runs on this host now (the same process: its start
    time matches), else ``None`` (gone, reused, another host's, or never recorded)."""
    if not record:
        return None
    try:
        found = json.loads(record)
        pid, started = int(found["pid"]), found.get("started")
    except (ValueError, KeyError, TypeError):
        return None
    if found.get("host") != socket.gethostname():
        return None
    now = process_started_at(pid)
    if now is None or started is None or abs(now - float(started)) > 1.0:
        return None
    return pid


def register(
    tx: Tx,
    owner: str,
    kind: str,
    labels: tuple[str, ...] = (),
    *,
    shared_workspaces: bool = False,
) -> None:
    """Record this executor process (its first heartbeat), its host, its labels (with
    ``host:<name>``, the host it runs goals as) and whether it sees every host's workspaces."""
    tx.execute(
        "INSERT INTO workers (id, pid, host, kind, started_at, heartbeat_at, labels,"
        " shared_workspaces) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " pid = excluded.pid, host = excluded.host, kind = excluded.kind,"
        " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
        " labels = excluded.labels, shared_workspaces = excluded.shared_workspaces",
        (
            owner,
            os.getpid(),
            socket.gethostname(),
            kind,
            tx.now,
            tx.now,
            json.dumps(labels),
            int(shared_workspaces),
        ),
    )


def unregister(tx: Tx, owner: str) -> None:
    """Forget a stopped executor process."""
    tx.execute("DELETE FROM workers WHERE id = ?", (owner,))
