"""Running a subprocess for a tool: its own process group, output streamed, timeout and cancel.

Shared by the ``shell`` and ``python`` tools. The child leads a new session, so a timeout or a
cancel ends everything it started (SIGTERM to the group, SIGKILL after a grace period), and
background processes left behind after a normal exit are ended too.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent_tui.core.tools.base import ToolContext, ToolError, TransientToolError
from agent_tui.core.tools.offload import race

OUTPUT_TAIL = 1024 * 1024
"""Bytes of stdout kept for ``output``."""
DATA_TAIL = 64 * 1024
"""Bytes of stdout and stderr kept in ``data``."""
READ_SIZE = 65536
DRAIN_SECONDS = 0.5
"""How long output may keep flowing after the child exits before its process group is ended."""
EX_TEMPFAIL = 75
"""Exit code a command uses to say "try again later"; its failure is transient."""
DEFAULT_TIMEOUT = 600.0
DEFAULT_GRACE = 3.0

Stopped = Literal["timeout", "cancelled"]


class Tail:
    """The last ``cap`` bytes of a stream, trimmed in amortised steps."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buf = bytearray()
        self.trimmed = False

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        if len(self.buf) > 2 * self.cap:
            del self.buf[: len(self.buf) - self.cap]
            self.trimmed = True

    def text(self, limit: int | None = None) -> str:
        """The kept bytes (at most ``limit``), decoded, without a leading partial character."""
        data = bytes(self.buf[-(limit or self.cap) :])
        skip = 0
        if self.trimmed or len(data) < len(self.buf):
            while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
                skip += 1
        return data[skip:].decode("utf-8", errors="replace")


@dataclass
class ProcessOutcome:
    """How a child process ended and what it wrote."""

    exit_code: int
    """The exit code; negative for the signal that killed it."""
    stopped: Stopped | None
    """``"timeout"`` or ``"cancelled"`` when it had to be stopped."""
    stdout: Tail
    stderr: Tail
    duration: float
    timeout: float
    """The timeout it ran with, in seconds."""

    @property
    def error(self) -> str | None:
        """A one-line failure message; ``None`` when the process exited with code 0."""
        if self.stopped == "cancelled":
            return "cancelled"
        if self.stopped == "timeout":
            return f"timed out after {self.timeout:g} s"
        return None if self.exit_code == 0 else failure(self.exit_code, self.stderr.text())

    @property
    def transient(self) -> bool:
        """The child asked to be tried again later (``EX_TEMPFAIL``)."""
        return self.stopped is None and self.exit_code == EX_TEMPFAIL

    def data(self) -> dict[str, Any]:
        """The fields every process tool puts in its result data."""
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout.text(DATA_TAIL),
            "stderr": self.stderr.text(),
            "duration": round(self.duration, 3),
        }


def timing(ctx: ToolContext, requested: float | None) -> tuple[float, float]:
    """The timeout (the request, else ``[shell] timeout``) and kill grace to use, in seconds."""
    shell_settings = getattr(ctx.settings, "shell", None)
    default = getattr(shell_settings, "timeout", DEFAULT_TIMEOUT)
    timeout = float(requested if requested is not None else default)
    grace = float(getattr(shell_settings, "kill_grace", DEFAULT_GRACE))
    return timeout, grace


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream protocol that also reports the moment the child exits, pipes open or not."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=READ_SIZE, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


async def _spawn(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> tuple[asyncio.SubprocessTransport, _Protocol]:
    """Start ``argv`` as the leader of a new session and process group."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.subprocess_exec(
            lambda: _Protocol(loop),
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolError(f"cannot start {argv[0]} in {str(cwd)!r}: {exc.strerror}") from exc


async def run_process(
    argv: Sequence[str],
    ctx: ToolContext,
    *,
    env: Mapping[str, str],
    timeout: float,
    grace: float,
    sandboxed: bool = False,
) -> ProcessOutcome:
    """Run ``argv`` in the workspace, streaming stdout and stderr to ``ctx.emit``.

    Returns when the child has exited and its process group is gone. A timeout or
    ``ctx.cancelled`` ends the whole group; so does the caller's own cancellation (SIGKILL).

    ``sandboxed``: ``argv`` is bubblewrap around the command. SIGTERM then goes to the command's
    processes but not to bubblewrap itself, whose death would SIGKILL them before their grace
    period; an exit code of 128 + N is bubblewrap reporting that signal N killed the command.
    """
    started = time.monotonic()
    transport, protocol = await _spawn(argv, ctx.workspace, env)
    pid = transport.get_pid()
    if ctx.on_process is not None:
        ctx.on_process(pid)
    out, err = Tail(OUTPUT_TAIL), Tail(DATA_TAIL)
    assert protocol.stdout is not None and protocol.stderr is not None
    readers = [
        asyncio.create_task(_pump(protocol.stdout, "stdout", out, ctx)),
        asyncio.create_task(_pump(protocol.stderr, "stderr", err, ctx)),
    ]
    try:
        stopped = await _supervise(protocol.exited, ctx.cancelled, timeout)
        spare = pid if sandboxed else None
        await _end(pid, readers, grace, drain=DRAIN_SECONDS if stopped is None else 0, spare=spare)
        await protocol.exited.wait()
    except BaseException:
        _signal(pid, signal.SIGKILL)
        for task in readers:
            task.cancel()
        raise
    finally:
        code = transport.get_returncode()
        transport.close()
    assert code is not None
    if sandboxed and 128 < code <= 128 + 64:
        code = 128 - code
    return ProcessOutcome(code, stopped, out, err, time.monotonic() - started, timeout)


async def _pump(stream: asyncio.StreamReader, name: str, tail: Tail, ctx: ToolContext) -> None:
    """Copy a pipe into ``tail`` and the context's sink, decoding UTF-8 across chunk borders."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await stream.read(READ_SIZE):
        tail.add(chunk)
        if text := decoder.decode(chunk):
            ctx.emit(name, text)
    if text := decoder.decode(b"", final=True):
        ctx.emit(name, text)


async def _supervise(
    exited: asyncio.Event, cancelled: asyncio.Event, timeout: float
) -> Stopped | None:
    """Wait for the child to exit; ``"timeout"`` or ``"cancelled"`` if it had to be stopped."""
    try:
        ended = await race(exited.wait(), cancelled, timeout)
    except TransientToolError:
        return "timeout"
    return None if ended is not None else "cancelled"


async def _end(
    pgid: int,
    readers: list[asyncio.Task[None]],
    grace: float,
    drain: float,
    spare: int | None = None,
) -> None:
    """Let output drain, end whatever is left of the process group, then finish the readers.

    ``spare`` is a member that gets no SIGTERM, only the final SIGKILL (the sandbox itself).
    """
    if drain:
        await asyncio.wait(readers, timeout=drain)
    if spare is not None and _group_alive(pgid):
        for member in _members(pgid):
            if member != spare:
                _kill(member, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _others_alive(pgid, spare) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + DRAIN_SECONDS  # the sandbox exits after its command
        while _group_alive(pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        _signal(pgid, signal.SIGKILL)
    elif _signal(pgid, signal.SIGTERM):
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if _group_alive(pgid):
            _signal(pgid, signal.SIGKILL)
    # A process that left the group (setsid) may still hold a pipe open; do not wait for it.
    _, pending = await asyncio.wait(readers, timeout=1.0)
    for task in pending:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for task in readers:
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc


def _signal(pgid: int, sig: int) -> bool:
    """Signal a process group; False if it has no members left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    """Whether the group has a member that is not a zombie (orphans may never be reaped)."""
    if not _signal(pgid, 0):
        return False
    try:
        return any(True for _ in _members(pgid))
    except OSError:
        return True


def _others_alive(pgid: int, spare: int) -> bool:
    """Whether the group has a live member besides ``spare``."""
    return any(member != spare for member in _members(pgid))


def _members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, from ``/proc``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def failure(code: int, stderr: str) -> str:
    """``exit code N: last stderr line`` or ``killed by SIGNAME``, for a failed result."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1][:300] if lines else ""
    if code < 0:
        try:
            head = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            head = f"killed by signal {-code}"
    else:
        head = f"exit code {code}"
    return f"{head}: {last}" if last else head
