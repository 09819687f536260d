"""Work that lost its executor: steps of dead processes taken back, this process's steps that were
cancelled or taken over stopped, crashed steps closed, and running steps drained at shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent_tui.config import Settings
from agent_tui.core.actions import Actions, RunningStep
from agent_tui.core.states import StepStatus
from agent_tui.core.store import Store, is_full, liveness, runs

log = logging.getLogger("agent_tui.executor")


class Recovery:
    """One executor's side of crash recovery, over the steps it is running."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        owner: str,
        running: dict[int, RunningStep],
        actions: Actions,
    ) -> None:
        self.store = store
        self.settings = settings
        self.owner = owner
        self.running = running
        self.actions = actions

    def reap(self) -> bool:
        """Recover the steps of dead processes and expired leases; ``True`` if any was."""
        self.actions.replay_spool()  # before recovery: a result known is never asked about
        dead = [o for o in liveness.dead_local_owners(self.store) if o != self.owner]
        expired = runs.any_lease_expired(self.store)
        self.note_outlived()
        if not dead and not expired:
            return False  # nothing to recover: no write (an idle executor commits nothing here)
        with self.store.write() as tx:
            # No process could renew a lease while this one waited for the database: for one
            # lease after such a wait, an expired lease is no sign of death; only the dead lose.
            stalled = tx.now - self.store.waited_until < self.settings.executor.lease_seconds
            notes = runs.recover(tx, dead, only_dead=stalled)
        for note in notes:
            log.warning(note)
        return bool(notes)

    def note_outlived(self) -> None:
        """Questions about commands that outlived their executor say when the command ended."""
        if not runs.any_outlived(self.store):
            return  # a read first: nothing to write most of the time
        with self.store.write() as tx:
            for note in runs.outlived_commands_ended(tx):
                log.warning(note)

    def check_lost(self) -> None:
        """Cancel local work whose step was cancelled or taken over by another process."""
        if not self.running:
            return
        fenced = []
        for row in runs.lost_steps(self.store, list(self.running), self.owner):
            running = self.running.get(row["id"])
            if running is not None and not running.cancelled.is_set():
                running.cancelled.set()
                if row["status"] != StepStatus.CANCELLED:
                    fenced.append(row)
        if fenced:  # our lease ran out (stopped, or too busy to renew) and another took over
            with self.store.write() as tx:
                runs.journal_fenced(tx, fenced, self.owner)

    def abandon(self, running: RunningStep, error: str) -> None:
        """No action of a step stopped by an internal error stays ``running``: see
        :func:`runs.abandon_step`. If even that cannot be written, the step's lease is no longer
        renewed, so the reaper recovers it like a crash."""
        step = running.step
        self.actions.replay_spool()  # a result this step spooled but could not record is kept
        try:
            with self.store.write() as tx:
                runs.abandon_step(tx, step, self.owner, error, ended=running.ended)
        except Exception as exc:
            if not is_full(exc):  # a full disk is said once, by the store
                log.exception("could not record the failure of step %s", step["id"])

    async def drain(self, grace: float | None, force: asyncio.Event | None) -> None:
        """Let running steps finish for ``grace`` seconds (``None``: as long as they take) or
        until ``force`` is set; then interrupt the rest."""
        tasks: set[asyncio.Task[Any]] = {r.task for r in self.running.values() if r.task}
        if not tasks:
            return
        await _wait_for(tasks, grace, force)
        pending = {t for t in tasks if not t.done()}
        if not pending:
            return
        for running in self.running.values():
            running.interrupted = True
            running.cancelled.set()
            if running.step["kind"] != "tool" and running.task is not None:
                running.task.cancel()  # a model call does not watch the event
        await asyncio.wait(pending, timeout=self.settings.shell.kill_grace + 5)


async def _wait_for(
    tasks: set[asyncio.Task[Any]], grace: float | None, force: asyncio.Event | None
) -> None:
    """Wait until every task is done, ``grace`` seconds pass, or ``force`` is set."""
    loop = asyncio.get_running_loop()
    deadline = None if grace is None else loop.time() + grace
    forced = asyncio.create_task(force.wait()) if force is not None else None
    waiters: set[asyncio.Task[Any]] = set(tasks) | ({forced} if forced else set())
    try:
        while any(not t.done() for t in tasks):
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                return
            done, _ = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done or (forced is not None and forced in done):
                return
            waiters -= done
    finally:
        if forced is not None:
            forced.cancel()
