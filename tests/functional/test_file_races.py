"""File tools against a process that keeps swapping their target: nothing outside leaks or changes.

A separate process (real parallelism, no GIL in the way) swaps a workspace file between a regular
file and a symlink to an outside canary, a FIFO or a hard link to the canary, or swaps a directory
with a symlink to an outside directory, while the tools run in an event loop beside a heartbeat.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent_tui.core.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent_tui.core.tools.files import ListFilesTool, ReadFileTool, WriteFileTool
from agent_tui.core.tools.offload import PREVIEW_TIMEOUT, off_loop
from tests.helpers import Sink

TRIES = 120
CANARY = "CANARY-7f3a9c-outside-secret"

SWAPPER = r"""
import ctypes, os, sys, time
mode, ws, canary, outdir = sys.argv[1:5]
os.chdir(ws)
libc = ctypes.CDLL(None, use_errno=True)

def regular():
    with open("swap-file", "w") as f:
        f.write("inside\n")
    os.replace("swap-file", "t.txt")

def odd():
    for name in ("swap-odd",):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    if mode == "symlink":
        os.symlink(canary, "swap-odd")
    elif mode == "fifo":
        os.mkfifo("swap-odd")
    else:
        os.link(canary, "swap-odd")
    os.replace("swap-odd", "t.txt")

def exchange():
    # RENAME_EXCHANGE: "d" and "d.link" trade places atomically, so "d" never goes missing.
    if libc.renameat2(-100, b"d", -100, b"d.link", 2) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")

if mode == "dir":
    os.mkdir("d")
    with open("d/f.txt", "w") as f:
        f.write("inside\n")
    os.symlink(outdir, "d.link")
    exchange()
    exchange()
else:
    regular()
def hold():
    # Each state lasts at least 100 us, so the tools meet both about as often.
    end = time.perf_counter() + 0.0001
    while time.perf_counter() < end:
        pass

print("ready", flush=True)
while True:
    try:
        if mode == "dir":
            exchange()
            hold()
        else:
            odd()
            hold()
            regular()
            hold()
    except OSError:
        pass
"""


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path, Path]:
    """``(workspace, canary file, outside directory)``; all outside things hold the canary."""
    ws = tmp_path / "ws"
    ws.mkdir()
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY + "\n")
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    (outdir / "f.txt").write_text(CANARY + "\n")
    (outdir / "outside-only.txt").write_text(CANARY + "\n")
    return ws, canary, outdir


def _outside_state(canary: Path, outdir: Path) -> dict[str, str]:
    state = {"canary": canary.read_text()}
    for path in sorted(outdir.rglob("*")):
        state[str(path)] = path.read_text() if path.is_file() else "<dir>"
    return state


@pytest.fixture
def swapper(places: tuple[Path, Path, Path]) -> Iterator[Callable[[str], Callable[[], None]]]:
    """Starts the swapping process in a mode; returns a function that stops it."""
    procs: list[subprocess.Popen[str]] = []

    def stop() -> None:
        for proc in procs:
            proc.kill()
            proc.wait()

    def start(mode: str) -> Callable[[], None]:
        ws, canary, outdir = places
        proc = subprocess.Popen(
            [sys.executable, "-c", SWAPPER, mode, str(ws), str(canary), str(outdir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return stop

    yield start
    stop()


def _ctx(ws: Path) -> ToolContext:
    return ToolContext(
        workspace=ws, emit=Sink(), goal_id=1, step_id=1, action_id=1, cancelled=asyncio.Event()
    )


class Heartbeat:
    """Ticks every 10 ms on the loop and keeps the largest gap between ticks (a liveness check)."""

    def __init__(self) -> None:
        self.largest = 0.0
        self.ticks = 0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.largest = max(self.largest, now - last)
            self.ticks += 1
            last = now


async def _calls(ws: Path, raw: str, i: int) -> list[tuple[str, str, bool]]:
    """Every file-tool operation on ``raw`` once: ``(operation, everything it said, ok)``."""
    read, write, listing = ReadFileTool(), WriteFileTool(), ListFilesTool()
    parent = raw.rsplit("/", 1)[0] if "/" in raw else "."
    ops: list[tuple[str, Tool, dict[str, object]]] = [
        ("read", read, {"path": raw}),
        ("replace", write, {"path": raw, "content": f"replaced {i}\n"}),
        ("append", write, {"path": raw, "content": f"appended {i}\n", "append": True}),
        ("list", listing, {"path": parent, "recursive": True}),
    ]
    if "/" in raw:
        ops.append(("create", write, {"path": f"{parent}/new{i}/deep.txt", "content": "x\n"}))
    said: list[tuple[str, str, bool]] = []
    for name, tool, raw_args in ops:
        args = tool.parse(raw_args)
        if tool is write:
            preview = await asyncio.wait_for(
                off_loop(tool.preview, args, ws, timeout=PREVIEW_TIMEOUT, what="preview"), 30
            )
            said.append((f"preview {name}", preview, "refused" not in preview))
        try:
            result: ToolResult = await asyncio.wait_for(tool.run(args, _ctx(ws)), 30)
        except ToolError as exc:
            said.append((name, str(exc), False))
        else:
            said.append((name, result.output + json.dumps(result.data), True))
    return said


async def _race(ws: Path, raw: str) -> tuple[list[tuple[str, str, bool]], Heartbeat]:
    beat = Heartbeat()
    ticking = asyncio.create_task(beat.run())
    said: list[tuple[str, str, bool]] = []
    try:
        for i in range(TRIES):
            said += await _calls(ws, raw, i)
    finally:
        ticking.cancel()
    return said, beat


def _check(
    said: list[tuple[str, str, bool]],
    beat: Heartbeat,
    before: dict[str, str],
    places: tuple[Path, Path, Path],
) -> None:
    ws, canary, outdir = places
    for op, text, _ in said:
        assert CANARY not in text, f"{op} leaked the canary: {text[:300]}"
        assert "outside-only" not in text, f"{op} listed the outside directory: {text[:300]}"
        assert "did not finish" not in text, f"{op} got stuck: {text}"
    errors = [text for op, text, ok in said if not ok and not op.startswith("preview")]
    assert all("\n" not in text for text in errors), "errors are one line"
    assert any(ok for op, _, ok in said if op != "list"), "some calls met the regular file"
    assert _outside_state(canary, outdir) == before, "nothing outside was written or created"
    leftovers = [p for p in ws.rglob("*.tmp") if not p.name.startswith("swap-")]
    assert leftovers == [], "no temporary file is left behind"
    assert beat.ticks > 0 and beat.largest < 1.0, f"the loop froze for {beat.largest:.2f} s"


@pytest.mark.parametrize("mode", ["symlink", "fifo", "hardlink"])
async def test_file_swapped_under_the_tools(mode: str, places, swapper):
    ws, canary, outdir = places
    before = _outside_state(canary, outdir)
    stop = swapper(mode)
    said, beat = await _race(ws, "t.txt")
    stop()
    _check(said, beat, before, places)


async def test_directory_swapped_for_an_outside_symlink(places, swapper):
    ws, canary, outdir = places
    before = _outside_state(canary, outdir)
    stop = swapper("dir")
    said, beat = await _race(ws, "d/f.txt")
    stop()
    _check(said, beat, before, places)
    writes = ("replace", "append", "create")
    assert any(ok for op, _, ok in said if op in writes), "some writes went into the real d/"
