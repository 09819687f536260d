"""Whether a process, an executor or an action's command still runs: real processes, read from
``/proc``, and a real ``workers`` table."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from agent_tui.core.store import Store, liveness


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def gone_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_process_start_time_is_read_and_a_gone_one_is_none(
    sleeper: subprocess.Popen[bytes],
) -> None:
    started = liveness.process_started_at(sleeper.pid)
    assert started is not None and started <= time.time() + 1
    ours = liveness.process_started_at(os.getpid())
    assert ours is not None and ours <= started + 1
    assert liveness.process_started_at(gone_pid()) is None


def test_a_zombie_is_not_running() -> None:
    proc = subprocess.Popen(["true"])
    deadline = time.monotonic() + 30
    while liveness.process_started_at(proc.pid) is not None:  # until it has exited, unreaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert proc.poll() == 0  # it was a zombie until now


def test_a_local_process_is_alive_only_if_it_registered_after_it_started(
    sleeper: subprocess.Popen[bytes],
) -> None:
    now = time.time()
    assert liveness.local_process_alive(sleeper.pid, now)
    assert not liveness.local_process_alive(sleeper.pid, now - 3600)  # the pid was reused
    assert not liveness.local_process_alive(gone_pid(), now)


def worker_row(**values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "w",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "kind": "worker",
        "started_at": time.time(),
        "heartbeat_at": time.time(),
    }
    row.update(values)
    return row


def test_a_worker_here_is_alive_while_its_process_runs_elsewhere_while_it_beats() -> None:
    now = time.time()
    assert liveness.worker_alive(worker_row(), now)
    assert not liveness.worker_alive(worker_row(pid=gone_pid()), now)
    assert not liveness.worker_alive(worker_row(heartbeat_at=now - 3601), now)
    elsewhere = {"host": "another-host", "pid": 1}
    assert liveness.worker_alive(worker_row(**elsewhere), now)
    stale = now - liveness.STALE_SECONDS - 1
    assert not liveness.worker_alive(worker_row(**elsewhere, heartbeat_at=stale), now)


def test_live_workers_lists_only_the_running_ones(store: Store) -> None:
    now = time.time()
    with store.write() as tx:
        for row in (
            worker_row(id="here"),
            worker_row(id="dead", pid=gone_pid()),
            worker_row(id="far", host="another-host", started_at=now + 1),
            worker_row(id="far-stale", host="another-host", heartbeat_at=now - 3600),
        ):
            tx.execute(
                "INSERT INTO workers (id, pid, host, kind, started_at, heartbeat_at)"
                " VALUES (:id, :pid, :host, :kind, :started_at, :heartbeat_at)",
                row,
            )

    assert [r["id"] for r in liveness.live_workers(store)] == ["here", "far"]


def test_a_command_is_still_running_only_as_the_same_process_on_this_host(
    sleeper: subprocess.Popen[bytes],
) -> None:
    record = liveness.process_record(sleeper.pid)
    assert liveness.command_still_running(record) == sleeper.pid

    found = json.loads(record)
    moved = json.dumps(found | {"host": "another-host"})
    reused = json.dumps(found | {"started": found["started"] - 3600})
    unknown = json.dumps({k: v for k, v in found.items() if k != "started"})
    for other in (moved, reused, unknown, None, "", "not json", "{}", '{"pid": "x"}'):
        assert liveness.command_still_running(other) is None, other

    sleeper.kill()
    sleeper.wait()
    assert liveness.command_still_running(record) is None
