"""The TUI's executor on a thread and an event loop of its own, with its own database connection.

Whatever the executor waits for (another process's write lock, for as long as it is held; a slow
step start) then holds up only its own loop: the TUI's keys, scrolling and repaints never wait for
it. The two sides talk only through thread-safe calls: the executor reports to its sinks (the
UI's bridge locks its buffers), and the TUI forwards the events its own writes commit with
:meth:`ExecutorThread.heard`, so an approval dispatches at once, as it did on one loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent_tui.core.events import Sink
from agent_tui.core.store import Event, open_store

if TYPE_CHECKING:
    from agent_tui.config import Settings
    from agent_tui.core.executor import Executor
    from agent_tui.core.llm import ModelChoice

log = logging.getLogger(__name__)

BusyHook = Callable[[bool, list[int]], None]
"""Told ``(True, holder pids)`` when the executor starts waiting for the database, ``(False, [])``
when it is free again; called on the executor's thread."""


class ExecutorThread:
    """Runs one :class:`~agent_tui.core.executor.Executor` until :meth:`stop`."""

    def __init__(
        self,
        db_path: Path | str,
        settings: Settings,
        *,
        kind: str = "tui",
        sinks: list[Sink] | None = None,
        on_busy: BusyHook | None = None,
    ) -> None:
        self.db_path = db_path
        self.settings = settings
        self.kind = kind
        self.sinks = list(sinks or [])
        self.on_busy = on_busy
        self.executor: Executor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._grace: float | None = 10.0
        self._stopping = False

    @property
    def model(self) -> ModelChoice | None:
        """The model the executor chose, once it started."""
        return self.executor.model if self.executor is not None else None

    @property
    def running(self) -> int:
        """How many steps the executor runs now."""
        return len(self.executor.running) if self.executor is not None else 0

    async def start(self) -> None:
        """Start the thread and wait until the executor runs; its failure to start is raised."""
        caller = asyncio.get_running_loop()
        started: asyncio.Future[None] = caller.create_future()

        def tell(error: BaseException | None) -> None:
            def settle() -> None:
                if started.done():
                    return
                if error is None:
                    started.set_result(None)
                else:
                    started.set_exception(error)

            caller.call_soon_threadsafe(settle)

        self._thread = threading.Thread(
            target=self._main, args=(tell,), name=f"agent-tui {self.kind} executor", daemon=True
        )
        self._thread.start()
        await started

    def heard(self, event: Event) -> None:
        """Forward an event committed on another connection of this process (thread-safe)."""
        loop, executor = self._loop, self.executor
        if loop is None or executor is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(executor.heard, event)
        except RuntimeError:
            pass  # the loop closed in between: the executor is gone

    async def stop(self, grace: float | None = 10.0) -> None:
        """Stop the executor as :meth:`Executor.stop` does, and wait for the thread to end."""
        self._grace = grace
        self._stopping = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    # -- the thread -------------------------------------------------------------------------

    def _main(self, tell: Callable[[BaseException | None], None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(loop, tell))
        except BaseException as exc:  # pragma: no cover - _serve reports its own failures
            log.exception("the executor's thread failed")
            tell(exc)
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, tell: Callable[[BaseException | None], None]
    ) -> None:
        from agent_tui.core.executor import Executor

        self._loop = loop
        self._stop = asyncio.Event()
        if self._stopping:
            self._stop.set()  # stop() came before this loop could hear it
        try:
            store = open_store(self.settings, self.db_path)
        except BaseException as exc:
            tell(exc)
            return
        if self.on_busy is not None:
            store.busy_hooks.append(self.on_busy)
        executor = Executor(store, self.settings, kind=self.kind, sinks=self.sinks)
        try:
            try:
                await executor.start()
            except BaseException as exc:
                tell(exc)
                await executor.stop(grace=0)
                return
            self.executor = executor
            tell(None)
            await self._stop.wait()
            await executor.stop(grace=self._grace)
        finally:
            store.close()
