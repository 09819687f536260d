"""The ``shell`` tool: one command in its own process group, output streamed as it arrives."""

from __future__ import annotations

import asyncio
import codecs
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from pydantic import Field, field_validator

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolResult

OUTPUT_TAIL = 1024 * 1024
"""Bytes of stdout kept for ``output``."""
DATA_TAIL = 64 * 1024
"""Bytes of stdout and stderr kept in ``data``."""
READ_SIZE = 65536
DRAIN_SECONDS = 0.5
"""How long output may keep flowing after the shell exits before its process group is ended."""
EX_TEMPFAIL = 75
"""Exit code a command uses to say "try again later"; its failure is transient."""
DEFAULT_TIMEOUT = 600.0
DEFAULT_GRACE = 3.0


class ShellArgs(ToolArgs):
    command: str = Field(min_length=1, description="The command line, run with bash -c.")
    timeout: float | None = Field(
        None, gt=0, le=86400, description="Seconds before the command is killed."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for the command."
    )

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("command is empty")
        if "\x00" in value:
            raise ValueError("command contains a NUL byte")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or "=" in key or "\x00" in key or "\x00" in item:
                raise ValueError(f"invalid environment variable {key!r}")
        return value


class _Tail:
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


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream protocol that also reports the moment the shell exits, pipes open or not."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=READ_SIZE, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


async def _spawn(args: ShellArgs, workspace: Path) -> tuple[asyncio.SubprocessTransport, _Protocol]:
    """Start ``bash -c`` (or ``sh -c``) as the leader of a new session and process group."""
    loop = asyncio.get_running_loop()
    shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
    try:
        return await loop.subprocess_exec(
            lambda: _Protocol(loop),
            shell,
            "-c",
            args.command,
            cwd=workspace,
            env={**os.environ, **args.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolError(f"cannot start {shell} in {str(workspace)!r}: {exc.strerror}") from exc


class ShellTool(Tool):
    """Run a shell command in the workspace."""

    name = "shell"
    description = (
        "Run a shell command (bash -c) in the workspace and return its standard output. "
        "Background processes are ended when the command finishes."
    )
    Args = ShellArgs
    side_effects = True
    default_decision = "ask"

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, ShellArgs)
        text = f"$ {args.command}"
        if args.timeout is not None:
            text += f"  (timeout {args.timeout:g} s)"
        if args.env:
            text += "\nenv: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in args.env.items())
        return text

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, ShellArgs)
        shell_settings = getattr(ctx.settings, "shell", None)
        default = getattr(shell_settings, "timeout", DEFAULT_TIMEOUT)
        timeout = float(args.timeout if args.timeout is not None else default)
        grace = float(getattr(shell_settings, "kill_grace", DEFAULT_GRACE))
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled", data={"command": args.command})
        started = time.monotonic()
        transport, protocol = await _spawn(args, ctx.workspace)
        pid = transport.get_pid()
        out, err = _Tail(OUTPUT_TAIL), _Tail(DATA_TAIL)
        assert protocol.stdout is not None and protocol.stderr is not None
        readers = [
            asyncio.create_task(_pump(protocol.stdout, "stdout", out, ctx)),
            asyncio.create_task(_pump(protocol.stderr, "stderr", err, ctx)),
        ]
        try:
            stopped = await _supervise(protocol.exited, ctx.cancelled, timeout)
            await _end(pid, readers, grace, drain=DRAIN_SECONDS if stopped is None else 0)
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
        stderr = err.text()
        data = {
            "exit_code": code,
            "stdout": out.text(DATA_TAIL),
            "stderr": stderr,
            "duration": round(time.monotonic() - started, 3),
            "command": args.command,
        }
        output = out.text().rstrip("\n")
        if stopped == "timeout":
            error: str | None = f"timed out after {timeout:g} s"
        elif stopped == "cancelled":
            error = "cancelled"
        else:
            error = None if code == 0 else _failure(code, stderr)
        transient = stopped is None and code == EX_TEMPFAIL
        return ToolResult(
            ok=error is None, output=output, data=data, error=error, transient=transient
        )


async def _pump(stream: asyncio.StreamReader, name: str, tail: _Tail, ctx: ToolContext) -> None:
    """Copy a pipe into ``tail`` and the context's sink, decoding UTF-8 across chunk borders."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await stream.read(READ_SIZE):
        tail.add(chunk)
        if text := decoder.decode(chunk):
            ctx.emit(name, text)
    if text := decoder.decode(b"", final=True):
        ctx.emit(name, text)


async def _supervise(exited: asyncio.Event, cancelled: asyncio.Event, timeout: float) -> str | None:
    """Wait for the shell to exit; ``"timeout"`` or ``"cancelled"`` if it had to be stopped."""
    waiter = asyncio.create_task(exited.wait())
    canceller = asyncio.create_task(cancelled.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, canceller}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        canceller.cancel()
        waiter.cancel()
    if waiter in done:
        return None
    return "cancelled" if canceller in done else "timeout"


async def _end(pgid: int, readers: list[asyncio.Task[None]], grace: float, drain: float) -> None:
    """Let output drain, end whatever is left of the process group, then finish the readers."""
    if drain:
        await asyncio.wait(readers, timeout=drain)
    if _signal(pgid, signal.SIGTERM):
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
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _failure(code: int, stderr: str) -> str:
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
