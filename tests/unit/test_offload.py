"""Blocking work off the event loop: results, errors and a deadline that never freezes the loop."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from agent_tui.core.tools.base import ToolError
from agent_tui.core.tools.offload import off_loop


async def test_result_and_exception_come_back():
    assert await off_loop(sum, [1, 2, 3], timeout=10, what="sum") == 6
    with pytest.raises(ZeroDivisionError):
        await off_loop(lambda: 1 / 0, timeout=10, what="divide")


async def test_a_stuck_call_fails_and_the_loop_keeps_running(tmp_path: Path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    try:
        with pytest.raises(ToolError, match=r"open fifo did not finish within 0\.3 s"):
            # Opening a FIFO for reading blocks until a writer comes: a stuck file.
            await off_loop(lambda: open(fifo, "rb").close(), timeout=0.3, what="open fifo")
    finally:
        ticking.cancel()
    assert ticks > 0, "the loop ran while the call was stuck"
    stuck = [t for t in threading.enumerate() if t.name == "agent-tui open fifo"]
    assert stuck and all(t.daemon for t in stuck), "a stuck call never blocks the exit"
    with open(fifo, "wb"):  # lets the stuck thread finish
        pass
