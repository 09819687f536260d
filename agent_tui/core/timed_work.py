"""Work that comes due with the clock: schedules, reopened windows, retries, expired approvals,
an unreachable model's next check, and the hourly pruning of old history."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import closing
from pathlib import Path
from typing import Any

from agent_tui.config import Settings
from agent_tui.core import control, schedules
from agent_tui.core.checkpoints import retention
from agent_tui.core.model_state import ModelState
from agent_tui.core.store import Store, lifecycle, open_store, readiness, runs
from agent_tui.core.store import limits as store_limits
from agent_tui.core.store import retention as history

log = logging.getLogger("agent_tui.executor")

HOUSEKEEPING_SECONDS = 3600.0
"""How often old checkpoints, output, events and document versions are pruned."""


def model_waits_due(store: Store, models: ModelState) -> bool:
    return readiness.model_waits_due(store, with_model=models.choice.model is not None)


def due(store: Store, settings: Settings, models: ModelState) -> bool:
    """Whether any timed work is due now (a read, before writing)."""
    failures = settings.schedules.pause_after_failures
    return readiness.timed_work_due(store, pause_after_failures=failures) or model_waits_due(
        store, models
    )


async def run_due(store: Store, settings: Settings, models: ModelState) -> None:
    """Fire due schedules, release goals whose window opened, make due retries ready, follow the
    model's availability and deny approvals that timed out: one transaction."""
    fresh = await asyncio.to_thread(schedules.recipes_due, store)
    with store.write() as tx:
        schedules.run_due_schedules(
            tx,
            max_attempts=settings.retry.max_attempts,
            fresh=fresh,
            pause_after=settings.schedules.pause_after_failures,
        )
        store_limits.release_due(tx)
        runs.promote_due_retries(tx)
        lifecycle.sync_model_waits(tx, models.choice.model)
        expired = control.expire_due(tx)
    if expired:
        log.info("%d approval(s) timed out and were denied", expired)
    await models.check_unreachable(store)


Guard = Callable[[Callable[[], Awaitable[object]]], Callable[[], Coroutine[Any, Any, None]]]


class Housekeeping:
    """Hourly, off the loop, on a connection of its own: prune the checkpoints, output, events and
    old document versions of goals finished long ago."""

    def __init__(self, store: Store, settings: Settings, output_dir: Path, guard: Guard) -> None:
        self.store = store
        self.settings = settings
        self.output_dir = output_dir
        self.guard = guard
        self._next = 0.0
        self._task: asyncio.Task[None] | None = None

    def maybe_start(self) -> None:
        now = self.store.clock()
        if now < self._next or (self._task is not None and not self._task.done()):
            return
        self._next = now + HOUSEKEEPING_SECONDS

        def prune() -> None:
            with closing(open_store(self.settings, self.store.address)) as store:
                retention.prune_finished(store, self.settings, now)
                history.prune(store, self.settings, now, self.output_dir)

        async def housekeeping() -> None:
            await asyncio.to_thread(prune)

        self._task = asyncio.create_task(self.guard(housekeeping)())
