"""A terminal driver whose input thread sleeps until there is input.

Textual's ``LinuxDriver`` reads keys in a thread that wakes ten times a second (``select`` with a
0.1 s timeout) only to see whether it should stop or whether a lone Escape has waited long enough.
On an idle TUI that thread cost as much CPU as the app's own loop. This driver's thread waits
without a timeout unless the parser holds a partial sequence (a lone Escape, say: then it wakes when
that sequence's timeout is due, as Textual's does), and stopping wakes it through a pipe.

Everything else (the terminal modes, what is parsed and how it is dispatched) is ``LinuxDriver``'s.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

INPUT_THREAD = "textual-input"
"""The input thread's name where the system shows threads (``/proc/PID/task/*/comm``, ``top -H``)."""


def _name_this_thread(name: str) -> None:
    """Name the calling thread for the system (Linux's ``PR_SET_NAME``; nothing elsewhere)."""
    try:
        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _WakingEvent(threading.Event):
    """An event whose ``set`` also writes to the input thread's wake pipe, if it has one, so the
    thread wakes from ``select``."""

    def __init__(self) -> None:
        super().__init__()
        self._wake_fd: int | None = None
        self._fd_lock = threading.Lock()

    def attach(self, fd: int | None) -> None:
        """Write to ``fd`` from now on (``None``: to nothing; the old one may then be closed)."""
        with self._fd_lock:
            self._wake_fd = fd

    def set(self) -> None:
        super().set()
        with self._fd_lock:
            if self._wake_fd is not None:
                try:
                    os.write(self._wake_fd, b"x")
                except OSError:  # the pipe is full: a wake is pending already
                    pass


class QuietLinuxDriver(LinuxDriver):
    """``LinuxDriver`` with an input thread that does not poll (see the module's docstring)."""

    def __init__(
        self,
        app: App[Any],
        *,
        debug: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self.exit_event = _WakingEvent()

    def _timeout(self, parser: XTermParser) -> float | None:
        """Seconds until the parser's pending sequence times out; ``None``: nothing pending."""
        due = parser._timeout_time
        if due is None:
            return None
        return max(0.0, due - get_time())

    def run_input_thread(self) -> None:
        """Wait for input (or the wake pipe) and dispatch events, as ``LinuxDriver`` does."""
        _name_this_thread(INPUT_THREAD)
        # A pipe per run of the thread: a suspended app's driver is closed and started again.
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        exit_event = self.exit_event
        assert isinstance(exit_event, _WakingEvent)
        exit_event.attach(wake_write)
        selector = selectors.DefaultSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(wake_read, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for last, (key, mask) in loop_last(events):
                if key.fd == wake_read:
                    os.read(wake_read, 64)
                    continue
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not data:  # stdin is piped and has ended: wait for the stop alone
                        selector.unregister(fileno)
                        break
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(self._timeout(parser)))
            if fileno in selector.get_map():
                selector.unregister(fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            exit_event.attach(None)
            os.close(wake_read)
            os.close(wake_write)
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
