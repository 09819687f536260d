"""A goal no live worker may take says what it waits for, in `ls`, `show` (and `--json`) and the
TUI, on either backend: its label is offered by no live worker, or its workspace's host has none.
The workers are real rows of the workers table: a remote one is alive while its heartbeat is
fresh, a local one while its process runs."""

from __future__ import annotations

import json
import os
import time

import pytest

from agent_tui import cli
from agent_tui.core.store import Store, liveness
from agent_tui.core.store.readiness import placement_waits
from tests.helpers import add, echo


def _worker(store: Store, owner: str, host: str, *labels: str, shared: bool = False) -> None:
    """A worker of another host, beating now (its process is not ours to check)."""
    with store.write() as tx:
        liveness.register(tx, owner, "worker", (*labels, f"host:{host}"), shared_workspaces=shared)
        tx.execute("UPDATE workers SET host = ?, pid = 1 WHERE id = ?", ("elsewhere", owner))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 0
    return capsys.readouterr().out


def test_a_label_nobody_offers_is_said_until_a_worker_offers_it(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    goal = add(store, {"title": "train", "runs_on": "gpu", "steps": [echo("s", "x")]})
    why = "waits for a worker labelled 'gpu' (`agent-tui worker --labels gpu`"
    assert why in placement_waits(store)[goal]
    listed = _run(["ls"], capsys)
    assert "queued (no worker may take it)" in listed and f"goal {goal} {why}" in listed
    assert f"status    queued — {why}" in _run(["show", str(goal)], capsys)
    shown = json.loads(_run(["show", str(goal), "--json"], capsys))
    assert why in shown["goal"]["waits_for"] and shown["goal"]["runs_on"] == "gpu"

    _worker(store, "w-build", "buildbox", "build")  # alive, but not for this label
    assert goal in placement_waits(store)
    _worker(store, "w-gpu", "gpubox", "gpu")
    assert placement_waits(store) == {}
    assert "no worker may take it" not in _run(["ls"], capsys)
    assert json.loads(_run(["ls", "--json"], capsys))[0]["waits_for"] is None

    # Its heartbeat goes stale: the worker is gone, and the goal says so again.
    store.execute("UPDATE workers SET heartbeat_at = ? WHERE id = 'w-gpu'", (time.time() - 60,))
    assert goal in placement_waits(store)


def test_a_goal_pinned_to_a_host_waits_for_that_host_or_a_shared_worker(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    goal = add(store, {"title": "build", "steps": [echo("s", "x")]})
    assert placement_waits(store) == {}  # no label, no host: any worker may take it
    store.execute("UPDATE goals SET host = 'buildbox' WHERE id = ?", (goal,))
    why = "waits for a worker on host 'buildbox', where its workspace is"
    assert why in placement_waits(store)[goal]
    assert why in _run(["show", str(goal)], capsys)

    _worker(store, "w-laptop", "laptop")  # another host, its own workspaces
    assert goal in placement_waits(store)
    _worker(store, "w-shared", "laptop2", shared=True)  # sees every host's workspaces
    assert placement_waits(store) == {}
    store.execute("DELETE FROM workers WHERE id = 'w-shared'")
    _worker(store, "w-build", "buildbox")
    assert placement_waits(store) == {}


def test_a_local_worker_counts_while_its_process_runs(store: Store) -> None:
    goal = add(store, {"title": "train", "runs_on": "gpu", "steps": [echo("s", "x")]})
    with store.write() as tx:
        liveness.register(tx, "w-here", "worker", ("gpu", "host:here"))
    assert placement_waits(store) == {}  # this process: alive
    store.execute("UPDATE workers SET pid = ? WHERE id = 'w-here'", (_a_dead_pid(),))
    assert goal in placement_waits(store)


def test_finished_and_unstarted_work_says_nothing(store: Store) -> None:
    goal = add(store, {"title": "train", "runs_on": "gpu", "steps": [echo("s", "x")]})
    store.execute("UPDATE steps SET status = 'completed' WHERE goal_id = ?", (goal,))
    assert placement_waits(store) == {}  # nothing ready: nothing waits for a worker


def _a_dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid
