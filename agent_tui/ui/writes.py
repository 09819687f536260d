"""The TUI's writes: at once when the database is free, else on a thread that waits for it.

A key press never holds the event loop on another process's write lock. Each write first runs in
:meth:`~agent_tui.core.store.Store.nowait` mode; when the lock is held, the same call goes to a
queue served by one thread with a connection of its own, which waits for as long as the lock is
held. Writes made while one waits queue behind it, so they keep the order they were made in.
The UI is told when writes start and stop waiting (the header says so) and gets each deferred
write's result, or its error, back on its own loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from textual.dom import DOMNode

from agent_tui.core.control import ControlError
from agent_tui.core.store import Busy, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


class Deferred:
    """What :meth:`Writes.run` returns for a write that waits for the database."""

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED = Deferred()

Done = Callable[[Any], None]
Failed = Callable[[str], None]
Waiting = Callable[[bool, list[int]], None]


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    what: str
    then: Done | None = None


class Writes:
    """Runs the TUI's writes without ever blocking its loop on the database's lock."""

    def __init__(
        self,
        store: Store,
        loop: asyncio.AbstractEventLoop,
        *,
        connect: Callable[[], Store],
        on_waiting: Waiting,
        on_error: Failed,
    ) -> None:
        self.store = store
        self.connect = connect
        """Opens the writer thread's own connection (``open_store`` with the app's settings)."""
        self.loop = loop
        self.on_waiting = on_waiting
        self.on_error = on_error
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        """Deferred writes not yet done (only touched on the UI's loop)."""
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def waiting(self) -> bool:
        """Whether some write waits for the database now."""
        return self._pending > 0

    def run(
        self, fn: Callable[..., T], *args: Any, what: str, then: Done | None = None, **kwargs: Any
    ) -> T | Deferred:
        """``fn(store, *args, **kwargs)`` now, or later on the writer's thread (then
        :data:`DEFERRED` is returned, and ``then(result)`` is called on the loop once it ran)."""
        job = _Job(fn, args, kwargs, what, then)
        if self._pending:
            self._defer(job, [])
            return DEFERRED
        try:
            with self.store.nowait():
                return fn(self.store, *args, **kwargs)
        except Busy as exc:
            self._defer(job, exc.holders)
            return DEFERRED

    async def close(self) -> None:
        """Wait for the queued writes (nothing the user did is lost) and end the thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)

    # -- the writer's thread ----------------------------------------------------------------

    def _defer(self, job: _Job, holders: list[int]) -> None:
        first = self._pending == 0
        self._pending += 1
        if first:
            self.on_waiting(True, holders)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name="agent-tui writes", daemon=True
            )
            self._thread.start()
        self._jobs.put(job)

    def _serve(self) -> None:
        own: Store | None = None
        while True:
            job = self._jobs.get()
            if job is None:
                break
            try:
                if own is None:
                    own = self.connect()
                    own.listeners = self.store.listeners  # the bridge and the executor hear it
                result = job.fn(own, *job.args, **job.kwargs)
            except ControlError as exc:
                self._call(self._finished, job, None, str(exc))
            except Exception as exc:
                log.exception("the TUI could not %s", job.what)
                self._call(self._finished, job, None, f"could not {job.what}: {exc}")
            else:
                self._call(self._finished, job, result, None)
        if own is not None:
            own.close()

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the app's loop is closed: nobody is left to tell

    def _finished(self, job: _Job, result: Any, error: str | None) -> None:
        self._pending -= 1
        if not self._pending:
            self.on_waiting(False, [])
        if error is not None:
            self.on_error(error)
        elif job.then is not None:
            job.then(result)


def write_from(
    node: DOMNode,
    store: Store,
    fn: Callable[..., T],
    *args: Any,
    what: str,
    then: Done | None = None,
    **kwargs: Any,
) -> T | Deferred:
    """``fn(store, …)`` through the app's :class:`Writes` when the node runs in agent-tui's app
    (anything else, a test's bare app, writes directly): the one way a screen writes."""
    write = getattr(node.app, "write", None)
    if write is None:
        return fn(store, *args, **kwargs)
    result: T | Deferred = write(fn, *args, what=what, then=then, **kwargs)
    return result
