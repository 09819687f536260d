"""Background jobs that never fail silently: every exception becomes an ``executor.error`` event
(in the journal every front end shows) and a log line."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from agent_tui.core.store import Away, Store, is_full

log = logging.getLogger("agent_tui.executor")


class Guard:
    """Wraps an executor's jobs; counts and journals what they raise."""

    def __init__(self, store: Store, stopping: Callable[[], bool]) -> None:
        self.store = store
        self.stopping = stopping
        self.errors = 0
        self.away = False
        """The database server was away at the last failure (said once until it is back)."""

    def __call__(
        self, job: Callable[[], Awaitable[object]]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """The job, skipped once the executor stops, its failures reported."""

        async def guarded() -> None:
            if self.stopping():
                return
            try:
                await job()
            except Exception as exc:
                self.report(f"{getattr(job, '__name__', 'job').strip('_')} failed", exc)

        guarded.__name__ = getattr(job, "__name__", "job")
        return guarded

    def now(self, what: str, call: Callable[[], object]) -> None:
        """Run ``call`` at once (a callback on the loop, not a job): skipped once the executor
        stops, its failure reported as ``what``."""
        if self.stopping():
            return
        try:
            call()
        except Exception as exc:
            self.report(what, exc)

    def report(self, what: str, exc: BaseException) -> None:
        """Journal and log a failure (a full disk is said once, by the store; a database server
        that is away, once here, and not journalled: it cannot be written to)."""
        if is_full(exc) and self.store.full_since is not None:
            return  # a full disk: the work waits for space
        if isinstance(exc, Away):
            if not self.away:
                log.error("%s: %s", what, exc)
            self.away = True
            return
        self.away = False
        self.errors += 1
        log.error("%s: %s", what, exc, exc_info=exc)
        try:
            with self.store.write() as tx:
                tx.event("executor.error", f"{what}: {type(exc).__name__}: {exc}")
        except Exception as exc:
            if not is_full(exc):
                log.exception("could not record an executor error")
