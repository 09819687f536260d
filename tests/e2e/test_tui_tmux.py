"""A new user's first minutes, in a real terminal: the installed ``agent-tui`` inside tmux.

It starts an example recipe from the welcome, approves its shell steps from the queue by keyboard,
pages through the document it wrote and opens it in $EDITOR (a script that keeps a copy), asserting
on what ``tmux capture-pane`` shows. The
tmux server is a private one (its own socket) and is killed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

AGENT_TUI = ROOT / ".venv" / "bin" / "agent-tui"
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.toml"))


class Terminal:
    """One tmux session on a private server, 120×40."""

    def __init__(self, socket: str, home: Path, size: tuple[int, int] = (120, 40)) -> None:
        self.socket = socket
        self.home = home
        self.size = size

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout

    def start(self) -> None:
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "AGENT_TUI_HOME": str(self.home / "agent-tui"),
            "EDITOR": str(self.home / "editor.sh"),
        }
        command = " ".join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), str(AGENT_TUI)])
        self.tmux(
            "new-session",
            "-d",
            "-s",
            "user",
            "-x",
            str(self.size[0]),
            "-y",
            str(self.size[1]),
            "-c",
            str(ROOT),
            command,
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "user")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "user", key)

    def wait_for(self, what: str, check: Callable[[str], bool], timeout: float = 30) -> str:
        """Poll the screen until ``check`` holds; fail with the last screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")
            time.sleep(0.1)

    def wait_text(self, text: str, timeout: float = 30) -> str:
        return self.wait_for(repr(text), lambda screen: text in screen, timeout)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the end-to-end terminal test needs it")
    if not AGENT_TUI.exists():
        pytest.skip(f"{AGENT_TUI} is missing: run `make setup` to install agent-tui")
    # A server of its own per test: a name reused at once could reach the previous test's
    # server while it is still going away, and show an empty screen.
    term = Terminal(f"agent-tui-e2e-{os.getpid()}-{tmp_path.name}", tmp_path / "user-home")
    term.home.mkdir()
    editor = term.home / "editor.sh"
    editor.write_text(f'#!/bin/sh\ncp "$1" {term.home / "edited.md"}\n', encoding="utf-8")
    editor.chmod(0o755)
    try:
        yield term
    finally:
        term.tmux("kill-server")


def approvals(screen: str) -> int | None:
    """The count at the end of the header line."""
    header = screen.splitlines()[0] if screen else ""
    words = header.split()
    if len(words) >= 2 and words[-2] == "approvals" and words[-1].isdigit():
        return int(words[-1])
    return None


def test_first_run_example_approval_and_document(terminal: Terminal) -> None:
    terminal.start()
    screen = terminal.wait_text("Welcome to agent-tui")
    assert "System report" in screen
    assert "start an example" in screen

    terminal.keys(str(EXAMPLES.index("system-report.toml") + 1))
    screen = terminal.wait_for("five approvals", lambda s: approvals(s) == 5)
    assert "System report" in screen
    assert "$ uname -a" in screen  # the highlighted approval shows exactly what would run

    for left in range(4, -1, -1):
        terminal.keys("a")
        terminal.wait_for(f"{left} approvals", lambda s, n=left: approvals(s) == n)

    terminal.wait_text("Documents 1", timeout=60)
    terminal.keys("]")
    screen = terminal.wait_text("page 1 of 1 · System report")
    assert "Kernel" in screen or "kernel" in screen
    terminal.keys("]")
    screen = terminal.wait_text("page 1 of 1 · System report")

    terminal.keys("e")  # $EDITOR gets a copy of the page; the app comes back after it
    edited = terminal.home / "edited.md"
    terminal.wait_for("the editor to run", lambda s: edited.exists() and "agent-tui ·" in s)
    assert "Kernel" in edited.read_text(encoding="utf-8")

    terminal.keys("q")
    terminal.wait_for("the app to exit", lambda s: "agent-tui ·" not in s, timeout=15)


def test_small_terminal_keeps_the_approvals_count(terminal: Terminal) -> None:
    """At 80×24 (a plain SSH session) the panes collapse and the header keeps the count."""
    terminal.size = (80, 24)
    terminal.start()
    terminal.wait_text("Welcome to agent-tui")
    terminal.keys(str(EXAMPLES.index("system-report.toml") + 1))
    screen = terminal.wait_for("five approvals", lambda s: approvals(s) == 5)
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    terminal.keys("a")  # one pane at a time: the first press brings the queue forward
    screen = terminal.wait_text("$ uname -a")
    assert approvals(screen) == 5  # nothing is approved unseen
    terminal.keys("a")
    terminal.wait_for("four approvals", lambda s: approvals(s) == 4)
    terminal.keys("q")
    # The approved `uname -a` may still be running (sandbox and checkpoint start-up): then q asks.
    screen = terminal.wait_for(
        "the app to exit or ask", lambda s: "agent-tui ·" not in s or "Quit anyway?" in s
    )
    if "Quit anyway?" in screen:
        terminal.keys("y")
    terminal.wait_for("the app to exit", lambda s: "agent-tui ·" not in s, timeout=15)


def _switches(pid: int, name: str) -> int:
    """The voluntary context switches (wake-ups from sleep) of ``pid``'s thread named ``name``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip() == name:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    raise AssertionError(f"no thread named {name!r} in process {pid}")


def test_the_input_thread_sleeps_until_a_key_comes(terminal: Terminal) -> None:
    """Textual's input thread wakes ten times a second to look for a stop or a lone Escape; on
    an idle TUI that cost as much CPU as everything else. agent-tui's sleeps until a key comes,
    and keys, a lone Escape (told from a sequence by its timeout) and quitting still work."""
    terminal.start()
    terminal.wait_text("Welcome to agent-tui")
    pid = int(terminal.tmux("display-message", "-p", "-t", "user", "#{pane_pid}").strip())
    before = _switches(pid, "textual-input")
    time.sleep(2)  # no key: Textual's thread would wake about 20 times
    assert _switches(pid, "textual-input") - before <= 2

    terminal.keys("n")
    terminal.wait_text("New goal")
    terminal.keys("Escape")  # alone: only its timeout tells it from the start of a sequence
    terminal.wait_for("the dialog to close", lambda s: "New goal" not in s)
    terminal.keys("q")  # the welcome closes
    terminal.wait_text("No goals yet")
    terminal.keys("q")
    terminal.wait_for("the app to exit", lambda s: "agent-tui ·" not in s, timeout=15)
