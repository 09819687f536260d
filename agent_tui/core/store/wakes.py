"""Wakes: a commit that can make work runnable, or change what a viewer shows, rings every other
process sharing the database at once, so none of them polls for it.

On SQLite the doorbell is a directory beside the database (``<name>.wakes/``) holding one Unix
datagram socket per listening connection (an executor, the TUI's watcher). :meth:`Doorbell.ring`,
called by :meth:`Store.write` after a commit, sends one byte to every socket there but the ringer's
own: a few microseconds each, nothing when nobody listens. A socket whose process died refuses the
byte, and the ringer removes it. A listener reads every byte waiting (rings coalesce) and calls back
once on its event loop.

The ``PRAGMA data_version`` check stays as a slow safety net (``[executor] watch_interval_ms``, 1 s
by default) for what no bell can carry: a database on a file system another host writes to, or a
doorbell directory that cannot be made.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

SUFFIX = ".wakes"
"""The doorbell directory is the database's name with this added."""
MAX_ADDRESS = 100
"""Unix socket addresses longer than this (the kernel's limit is 108 bytes) go through
``/proc/self/fd``: a database deep in a temporary directory has a long path."""


class Listening(Protocol):
    """A listener that :meth:`Wakes.listen` started; :meth:`close` stops it."""

    def close(self) -> None: ...


class Wakes(Protocol):
    """How a backend tells other processes that something changed (see the module)."""

    def ring(self) -> None:
        """Tell every other listener that a commit may have changed what it waits for."""

    def listen(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> Listening:
        """Call ``callback`` on ``loop`` after each ring by another connection (rings that
        arrive together call it once)."""
        ...


class Doorbell:
    """The SQLite store's wakes: Unix datagram sockets in a directory beside the database."""

    def __init__(self, db_path: Path) -> None:
        self.dir = db_path.with_name(db_path.name + SUFFIX)
        self._dir_fd: int | None = None
        self._sender: socket.socket | None = None
        self._peers: list[str] = []
        self._seen_mtime = -1
        self.own: set[str] = set()
        """The names of this doorbell's own listening sockets (never rung by it)."""

    # -- ringing -------------------------------------------------------------------------------

    def ring(self) -> None:
        """Send one byte to every other listener's socket; never raises."""
        try:
            mtime = os.stat(self.dir).st_mtime_ns
        except OSError:
            return  # nobody ever listened here
        if mtime != self._seen_mtime:
            self._seen_mtime = mtime
            try:
                names = os.listdir(self.dir)
            except OSError:
                return
            self._peers = [n for n in names if n.endswith(".sock") and n not in self.own]
        if not self._peers:
            return
        sender = self._sender
        if sender is None:
            sender = self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.setblocking(False)
        for name in self._peers:
            try:
                sender.sendto(b"!", self._address(name))
            except (ConnectionRefusedError, FileNotFoundError):
                self._remove_dead(name)
            except BlockingIOError:
                pass  # its queue is full: it has been rung already and will read them all
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):
                    log.debug("could not ring %s: %s", name, exc)

    def _remove_dead(self, name: str) -> None:
        """A socket nobody reads (its process died without closing it): remove it."""
        with contextlib.suppress(OSError):
            os.unlink(self.dir / name)
        with contextlib.suppress(ValueError):
            self._peers.remove(name)

    def _address(self, name: str) -> str:
        path = str(self.dir / name)
        if len(path) <= MAX_ADDRESS:
            return path
        if self._dir_fd is None:
            self._dir_fd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return f"/proc/self/fd/{self._dir_fd}/{name}"

    # -- listening -----------------------------------------------------------------------------

    def listen(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> Listening:
        """Bind a socket of this process's in the directory and read it on ``loop``.

        Where the directory cannot be made (a read-only place, say), nothing listens and the
        safety net notices changes instead; that is said once in the log.
        """
        try:
            self.dir.mkdir(mode=0o700, exist_ok=True)
            name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(self._address(name))
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
        except OSError as exc:
            log.warning(
                "cannot listen for other processes' changes in %s (%s): they are noticed within "
                "the watch interval instead",
                self.dir,
                exc,
            )
            return _Nothing()
        self.own.add(name)
        return _Socket(self, name, sock, loop, callback)


class _Socket:
    def __init__(
        self,
        bell: Doorbell,
        name: str,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[], None],
    ) -> None:
        self.bell = bell
        self.name = name
        self.sock = sock
        self.loop = loop
        self.callback = callback
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            while self.sock.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return
        self.callback()

    def close(self) -> None:
        if self.sock.fileno() < 0:
            return
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.bell.dir / self.name)
        self.bell.own.discard(self.name)


class _Nothing:
    def close(self) -> None:
        pass
