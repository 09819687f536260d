"""Writers of one SQLite file take turns on an OS lock before ``BEGIN IMMEDIATE``.

SQLite's own wait for its write lock sleeps and tries again (1, 2, 5, 10, 15, 20, 25 … ms): a
writer that just missed the lock sleeps on after it was freed, which put tens of milliseconds on
a step's start whenever several workers woke for the same change. An ``flock`` on a file beside
the database is handed over by the kernel the moment it is released, so agent-tui's writers
queue on it and find SQLite's lock free. A writer that does not take it (the ``sqlite3`` shell)
is still waited for by SQLite's busy handler, as before.

The lock file is ``<database>-lock`` (empty; never deleted: a writer may hold it). Where it
cannot be made (a read-only directory) writers go straight to SQLite's lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path


class WriterLock:
    """One connection's turn among the writers of a database file."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + "-lock")
        self._fd: int | None = None
        self._opened = False
        self.held = False

    def _open(self) -> int | None:
        if not self._opened:
            self._opened = True
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._fd = None  # no lock file: SQLite's own lock alone
        return self._fd

    def acquire(
        self, *, nowait_seconds: float | None, slow_after: float, slow: Callable[[float], None]
    ) -> bool:
        """Wait for the turn; ``False`` if ``nowait_seconds`` passed first. ``slow(waited)`` is
        called (from a timer thread) if the wait lasts ``slow_after`` seconds."""
        fd = self._open()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            self.held = True
            return True
        started = time.monotonic()
        if nowait_seconds is not None:
            while time.monotonic() - started < nowait_seconds:
                time.sleep(0.001)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                self.held = True
                return True
            return False
        timer = threading.Timer(slow_after, lambda: slow(time.monotonic() - started))
        timer.daemon = True
        timer.start()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            timer.cancel()
            if timer.is_alive():
                timer.join()
        self.held = True
        return True

    def release(self) -> None:
        if self.held and self._fd is not None:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
