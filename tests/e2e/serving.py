"""Running the real ``agent-tui serve`` for the end-to-end tests, and watching its processes."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.conftest import ROOT, cli_env

SERVE = [sys.executable, "-m", "agent_tui.cli", "serve"]
"""The serve command; ``python -m agent_tui.cli serve`` runs the same ``cmd_serve``."""


@dataclass
class Served:
    """A running ``agent-tui serve`` and the URL it printed."""

    process: subprocess.Popen[str]
    url: str

    @property
    def base(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.url).query)["token"][0]

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then the exit code (killed, and the test failed, if it takes too long)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"serve did not stop within {timeout} s of SIGTERM") from None


@contextmanager
def serving(home: Path, *args: str, **env: str) -> Iterator[Served]:
    """Start serve on a free 127.0.0.1 port; wait for its URL; stop it (SIGTERM) at the end."""
    process = subprocess.Popen(
        [*SERVE, "--port", "0", *args],
        env=cli_env(home, **env),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        served = Served(process, _read_url(process, timeout=30))
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _read_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.2):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        for word in line.split():
            if word.startswith("http://") and "token=" in word:
                return word
    error = process.stderr.read() if process.poll() is not None and process.stderr else ""
    raise AssertionError(f"serve printed no URL: {''.join(seen)!r} {error!r}")


def descendants(pid: int) -> dict[int, str]:
    """Every live process whose parent chain includes ``pid``: pid -> command line."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[0] != "Z":
            parents[int(entry)] = stat[1]
    found: dict[int, str] = {}
    for child in parents:
        node = child
        while node in parents and node > 1:
            node = parents[node]
            if node == pid:
                found[child] = cmdline(child)
                break
    return found


def alive(pid: int) -> bool:
    """True unless the process is gone or a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "it") -> None:
    """Poll ``predicate`` until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
