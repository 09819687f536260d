"""The doorbell: a commit on one connection wakes every other listener on the same database at once,
with no polling; dead listeners are cleaned up, and a place where no doorbell can be made is said."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core import executor as executor_module
from agent_tui.core.executor import Executor
from agent_tui.core.store import Store
from agent_tui.core.store.wakes import MAX_ADDRESS, Doorbell
from tests.helpers import add, echo, goal_status, pending_approvals, wait_for


@pytest.mark.sqlite_only
async def test_a_ring_reaches_every_other_listener_but_not_the_ringer(tmp_path: Path) -> None:
    db = tmp_path / "agent-tui.db"
    loop = asyncio.get_running_loop()
    heard = {"a": 0, "b": 0}
    a, b = Doorbell(db), Doorbell(db)
    listening = [
        a.listen(loop, lambda: heard.__setitem__("a", heard["a"] + 1)),
        b.listen(loop, lambda: heard.__setitem__("b", heard["b"] + 1)),
    ]
    try:
        a.ring()
        await wait_for(lambda: heard["b"] == 1, 30.0, "b to hear a's ring")
        await asyncio.sleep(0.05)
        assert heard == {"a": 0, "b": 1}
        b.ring()
        await wait_for(lambda: heard["a"] == 1, 30.0, "a to hear b's ring")
        for _ in range(50):  # rings that arrive together are read at once
            a.ring()
        await wait_for(lambda: heard["b"] >= 2, 30.0, "b to hear the burst")
        await asyncio.sleep(0.05)
        assert 2 <= heard["b"] < 50
    finally:
        for one in listening:
            one.close()
    assert not list((tmp_path / "agent-tui.db.wakes").iterdir()), "closing removes the sockets"


@pytest.mark.sqlite_only
async def test_a_dead_listeners_socket_is_removed_by_the_next_ring(tmp_path: Path) -> None:
    db = tmp_path / "agent-tui.db"
    wakes = tmp_path / "agent-tui.db.wakes"
    wakes.mkdir()
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    fd = os.open(wakes, os.O_RDONLY | os.O_DIRECTORY)
    try:  # through the directory's fd: a temporary directory's path may be too long to bind
        dead.bind(f"/proc/self/fd/{fd}/999999-deadbeef.sock")
    finally:
        os.close(fd)
    dead.close()  # a process killed without cleaning up leaves its socket file behind
    assert (wakes / "999999-deadbeef.sock").exists()
    Doorbell(db).ring()
    assert not (wakes / "999999-deadbeef.sock").exists()


@pytest.mark.sqlite_only
async def test_a_database_deep_in_a_long_path_still_has_a_doorbell(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    db = deep / "agent-tui.db"
    assert len(str(db) + ".wakes/x.sock") > MAX_ADDRESS + 8  # longer than a socket address may be
    heard: list[int] = []
    listening = Doorbell(db).listen(asyncio.get_running_loop(), lambda: heard.append(1))
    try:
        Doorbell(db).ring()
        await wait_for(lambda: heard, 30.0, "the ring through a long path")
    finally:
        listening.close()


@pytest.mark.sqlite_only
async def test_where_no_doorbell_can_be_made_it_is_said_and_nothing_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bell = Doorbell(Path("/proc/no-such-dir/agent-tui.db"))
    with caplog.at_level(logging.WARNING):
        listening = bell.listen(asyncio.get_running_loop(), lambda: None)
    assert "cannot listen for other processes' changes" in caplog.text
    assert "within the watch interval" in caplog.text
    bell.ring()
    listening.close()


@pytest.mark.sqlite_only
async def test_an_approval_on_another_connection_starts_the_step_without_any_polling(
    home: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor's safety nets (its one-second tick and its ``data_version`` check) are set
    beyond the test's own time limit: only the doorbell can tell it of the other connection's
    goal and approval, whose events never reach it in-process."""
    monkeypatch.setattr(executor_module, "TICK_SECONDS", 3600.0)
    settings.executor.watch_interval_ms = 60_000
    db = home / "data" / "agent-tui.db"
    mine, other = Store(db), Store(db)
    executor = Executor(mine, settings)
    await executor.start(detect_model=False)
    try:
        await asyncio.sleep(0.2)  # the start's own dispatch has found nothing
        goal = add(other, {"title": "asks", "steps": [echo("a", "rung", approval="ask")]})
        await wait_for(lambda: pending_approvals(other), 30.0, "the step to be claimed and to ask")
        [approval] = pending_approvals(other)
        control.approve(other, approval["id"])
        await wait_for(
            lambda: goal_status(other, goal) == "completed", 30.0, "the approved step to run"
        )
    finally:
        await executor.stop()
        mine.close()
        other.close()
    assert not [
        p for p in (home / "data" / "agent-tui.db.wakes").iterdir() if str(os.getpid()) in p.name
    ]
