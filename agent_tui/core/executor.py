"""The executor: an APScheduler ``AsyncIOScheduler`` on the running loop that claims and runs steps.

Used unchanged by the TUI, ``agent-tui worker`` and ``agent-tui serve``. Dispatch runs at once when
something may have become runnable (``wake``), every second as a safety net, and whenever
``PRAGMA data_version`` shows that another process committed. Nothing here fails silently: every
exception in background work becomes an event, a state with its reason, and a log line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core import control, llm, schedules, secrets
from agent_tui.core.actions import Actions, RunningStep
from agent_tui.core.agent import AgentStep, PlanStep
from agent_tui.core.checkpoints import retention
from agent_tui.core.events import OutputChunk, Sink
from agent_tui.core.model_state import ModelState
from agent_tui.core.states import StepStatus
from agent_tui.core.store import (
    Event,
    Row,
    StaleState,
    Store,
    is_full,
    lifecycle,
    liveness,
    open_store,
    readiness,
    runs,
)
from agent_tui.core.store import limits as store_limits
from agent_tui.core.store import retention as history
from agent_tui.core.tools.base import (
    Tool,
)
from agent_tui.core.tools.registry import builtin_tools, get_tool
from agent_tui.core.webhooks import WebhookDelivery

if TYPE_CHECKING:
    from agent_tui.core.tools.mcp import McpManager

log = logging.getLogger("agent_tui.executor")

S = StepStatus

WARMUP_DELAY = 2.0
"""Seconds after start before litellm is imported in the background."""

WAKING_EVENTS = frozenset(
    {
        "goal.created",
        "goal.resumed",
        "goal.retried",
        "approval.approved",
        "approval.rejected",
        "executor.resumed",
        "schedule.created",
        "step.ready",
    }
)
"""Events made in this process (by the UI, say) after which something may be runnable."""


HOUSEKEEPING_SECONDS = 3600.0
"""How often old checkpoints are pruned."""


class Executor:
    """Claims ready steps from the shared database and runs them with real tools."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        kind: str = "worker",
        max_parallel: int | None = None,
        sinks: list[Sink] | None = None,
        output_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.kind = kind
        self.max_parallel = max_parallel or settings.executor.max_parallel
        self.sinks: list[Sink] = list(sinks or [])
        self.output_dir = output_dir or paths.outputs_dir()
        self._next_housekeeping = 0.0
        self._last_beat = 0.0
        self._housekeeping: asyncio.Task[None] | None = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[int, RunningStep] = {}
        self.scheduler: AsyncIOScheduler | None = None
        self.stopping = False
        self.errors = 0
        self.models = ModelState(settings)
        """The model, its window and the probe of an unreachable server."""
        self._data_version = 0
        self._changed = asyncio.Event()
        self.webhooks = WebhookDelivery(store, settings.webhooks) if settings.webhooks else None
        self.mcp: McpManager | None = None
        self._mcp_ready: asyncio.Task[Any] | None = None
        self._retry_at: float | None = None
        self._wake_pending = False
        self._schedule_at: float | None = None
        self.actions = Actions(
            store,
            settings,
            owner=self.owner,
            output_dir=self.output_dir,
            report_output=self.report_output,
            find_tool=self.tool,
            wake=self.wake,
        )
        """The action pipeline: every tool call, a recipe step's or a model's, goes through it."""
        store.listeners.append(self._on_event)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, *, detect_model: bool = True) -> None:
        """Register this process, recover dead processes' steps, start the jobs, dispatch.

        The model is chosen (config, provider keys, Ollama) off the loop, and litellm is imported
        in the background so the first model call does not wait for it.
        """
        loop = asyncio.get_running_loop()
        self.store.redactor = secrets.for_settings(self.settings)
        if any(server.enabled for server in self.settings.mcp.servers.values()):
            from agent_tui.core.tools.mcp import McpManager

            self.mcp = McpManager(
                self.settings.mcp, on_event=self._mcp_event, log_dir=paths.state_dir()
            )
            self._mcp_ready = asyncio.create_task(self.mcp.start(), name="mcp-start")
        if detect_model and self.model.model is None:
            self.models.choice = await asyncio.to_thread(
                llm.choose_model,
                self.settings.model,
                self.settings.llm.api_base,
                ollama_url=self.settings.llm.ollama_url,
            )
        if self.model.model is not None:
            # Import litellm (2–3 s of CPU) a little later, off the loop, so it does not compete
            # with the first frames of the TUI; a model call before then imports it itself.
            loop.call_later(WARMUP_DELAY, lambda: loop.run_in_executor(None, llm.load_litellm))
        with self.store.write() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO workers (id, pid, host, kind, started_at,"
                " heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
                (self.owner, os.getpid(), socket.gethostname(), self.kind, tx.now, tx.now),
            )
            tx.event("executor.started", f"{self.kind} executor started ({self.owner})")
        self.actions.replay_spool()
        self._note_outlived()
        self._data_version = self.store.data_version()
        ex = self.settings.executor
        sched = AsyncIOScheduler(event_loop=loop)
        self.scheduler = sched
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        sched.add_job(
            self._guard(self._tick),
            "interval",
            seconds=1,
            id="tick",
            next_run_time=datetime.now().astimezone(),
            **common,
        )
        sched.add_job(
            self._guard(self._watch),
            "interval",
            seconds=ex.watch_interval_ms / 1000,
            id="watch",
            **common,
        )
        sched.add_job(
            self._guard(self._heartbeat),
            "interval",
            seconds=ex.heartbeat_seconds,
            id="heartbeat",
            **common,
        )
        sched.add_job(
            self._guard(self._reap),
            "interval",
            seconds=max(1.0, ex.lease_seconds / 3),
            id="reap",
            next_run_time=datetime.now().astimezone(),
            **common,
        )
        if self.webhooks is not None:
            sched.add_job(
                self._guard(self._deliver_webhooks), "interval", seconds=1, id="webhooks", **common
            )
        sched.start()
        self.wake()

    async def stop(self, *, grace: float | None = 10.0, force: asyncio.Event | None = None) -> None:
        """Stop claiming; let running steps finish, then interrupt what is left and recover it.

        Running steps get ``grace`` seconds (``None``: as long as they take) or until ``force`` is
        set. Interrupted side-effecting actions become ``unknown`` for a human to decide.
        """
        if self.stopping:
            return
        self.stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        tasks: set[asyncio.Task[Any]] = {r.task for r in self.running.values() if r.task}
        if tasks:
            await _wait_for(tasks, grace, force)
            pending = {t for t in tasks if not t.done()}
            if pending:
                for running in self.running.values():
                    running.interrupted = True
                    running.cancelled.set()
                    if running.step["kind"] != "tool" and running.task is not None:
                        running.task.cancel()  # a model call does not watch the event
                await asyncio.wait(pending, timeout=self.settings.shell.kill_grace + 5)
        try:
            with self.store.write() as tx:
                tx.execute(
                    "UPDATE steps SET lease_expires = 0 WHERE lease_owner = ?"
                    " AND status = 'running'",
                    (self.owner,),
                )
                runs.recover_expired(tx)
                tx.execute("DELETE FROM workers WHERE id = ?", (self.owner,))
                tx.event("executor.stopped", f"{self.kind} executor stopped ({self.owner})")
        except Exception:
            log.exception("could not record the executor's stop")
        if self.webhooks is not None:
            try:
                await self.webhooks.close()
            except Exception:
                log.exception("could not deliver the last webhooks")
        if self.mcp is not None:
            try:
                await self.mcp.stop()
            except Exception:
                log.exception("could not stop the MCP servers")
        if self._on_event in self.store.listeners:
            self.store.listeners.remove(self._on_event)

    def wake(self) -> None:
        """Dispatch as soon as possible (something may have become runnable)."""
        if self.scheduler is None or self.stopping or self._wake_pending:
            return  # a dispatch is already on its way: wakes coalesce
        self.scheduler.add_job(
            self._guard(self._woken),
            id="dispatch-now",
            replace_existing=True,
            max_instances=100,
            misfire_grace_time=None,
            next_run_time=datetime.now().astimezone(),
        )
        self._wake_pending = True

    def heard(self, event: Event) -> None:
        """React to an event committed in this process (here, or on another connection that
        forwards its events, as the TUI's does): dispatch if it can make work runnable, stop
        what it cancelled. Call it on the executor's loop."""
        self._changed.set()
        if event.kind in WAKING_EVENTS:
            self.wake()
        elif event.kind == "goal.cancelled":
            self._check_lost()

    async def _woken(self) -> None:
        self._wake_pending = False
        await self._dispatch()

    # -- reporting ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.heard(event)
        for sink in self.sinks:
            try:
                sink.on_event(event)
            except Exception:
                log.exception("an event sink failed")

    def report_output(self, chunk: OutputChunk) -> None:
        """Pass a chunk of live output (a tool's, or a model's text) to the sinks."""
        for sink in self.sinks:
            try:
                sink.on_output(chunk)
            except Exception:
                log.exception("an output sink failed")

    def _guard(
        self, job: Callable[[], Coroutine[Any, Any, None]]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        async def guarded() -> None:
            if self.stopping:
                return
            try:
                await job()
            except Exception as exc:
                self._report_error(f"{job.__name__.strip('_')} failed", exc)

        guarded.__name__ = job.__name__
        return guarded

    def _report_error(self, what: str, exc: BaseException) -> None:
        if is_full(exc) and self.store.full_since is not None:
            return  # a full disk: said once by the store; the work waits for space
        self.errors += 1
        log.error("%s: %s", what, exc, exc_info=exc)
        try:
            with self.store.write() as tx:
                tx.event("executor.error", f"{what}: {type(exc).__name__}: {exc}")
        except Exception as exc:
            if not is_full(exc):
                log.exception("could not record an executor error")

    # -- jobs --------------------------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        assert self.webhooks is not None
        await self.webhooks.deliver_due()

    async def _tick(self) -> None:
        """Timed work (schedules, reopened windows, expired approvals), then a dispatch."""
        if self._timed_work_due() or self._model_waits_due():
            fresh = await asyncio.to_thread(schedules.recipes_due, self.store)
            with self.store.write() as tx:
                schedules.run_due_schedules(
                    tx,
                    max_attempts=self.settings.retry.max_attempts,
                    fresh=fresh,
                    pause_after=self.settings.schedules.pause_after_failures,
                )
                store_limits.release_due(tx)
                runs.promote_due_retries(tx)
                lifecycle.sync_model_waits(tx, self.model.model)
                expired = control.expire_due(tx)
            if expired:
                log.info("%d approval(s) timed out and were denied", expired)
            await self.models.check_unreachable(self.store)
        self._housekeep()
        await self._dispatch()

    def _housekeep(self) -> None:
        """Hourly, off the loop: prune the checkpoints, output, events and old document
        versions of goals finished long ago."""
        now = self.store.clock()
        if now < self._next_housekeeping or (
            self._housekeeping is not None and not self._housekeeping.done()
        ):
            return
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS

        def prune() -> None:
            with closing(open_store(self.settings, self.store.path)) as store:
                retention.prune_finished(store, self.settings, now)
                history.prune(store, self.settings, now, self.output_dir)

        async def housekeeping() -> None:
            await asyncio.to_thread(prune)

        self._housekeeping = asyncio.create_task(self._guard(housekeeping)())

    # -- the model -----------------------------------------------------------------------------

    def _model_waits_due(self) -> bool:
        return readiness.model_waits_due(self.store, with_model=self.model.model is not None)

    def _timed_work_due(self) -> bool:
        failures = self.settings.schedules.pause_after_failures
        return readiness.timed_work_due(self.store, pause_after_failures=failures)

    async def _watch(self) -> None:
        version = self.store.data_version()
        if version == self._data_version:
            return
        self._data_version = version
        self._changed.set()
        self._check_lost()
        self.wake()

    async def _heartbeat(self) -> None:
        """Renew this process's leases; an executor that holds none only says it is alive, slowly
        (an idle worker commits every 10 s, not at every beat)."""
        now = self.store.clock()
        if not self.running and now - self._last_beat < liveness.IDLE_BEAT_SECONDS:
            return
        with self.store.write() as tx:
            runs.renew_leases(
                tx, self.owner, self.settings.executor.lease_seconds, list(self.running)
            )
        self._last_beat = now
        self._check_lost()

    async def _reap(self) -> None:
        self.actions.replay_spool()  # before recovery: a result known is never asked about
        dead = [o for o in liveness.dead_local_owners(self.store) if o != self.owner]
        expired = self.store.one(
            "SELECT 1 AS x FROM steps WHERE status = 'running' AND lease_expires < ? LIMIT 1",
            (self.store.clock(),),
        )
        self._note_outlived()
        if not dead and expired is None:
            return  # nothing to recover: no write (an idle executor commits nothing here)
        with self.store.write() as tx:
            # No process could renew a lease while this one waited for the database: for one
            # lease after such a wait, an expired lease is no sign of death; only the dead lose.
            stalled = tx.now - self.store.waited_until < self.settings.executor.lease_seconds
            notes = runs.recover(tx, dead, only_dead=stalled)
        for note in notes:
            log.warning(note)
        if notes:
            self.wake()

    def _note_outlived(self) -> None:
        """Questions about commands that outlived their executor say when the command ended."""
        if self.store.one(runs.OUTLIVED) is None:
            return  # a read first: nothing to write most of the time
        with self.store.write() as tx:
            for note in runs.outlived_commands_ended(tx):
                log.warning(note)

    def _check_lost(self) -> None:
        """Cancel local work whose step was cancelled or taken over by another process."""
        if not self.running:
            return
        ids = list(self.running)
        marks = ",".join("?" for _ in ids)
        rows = self.store.all(
            f"SELECT id, goal_id, key, status, lease_owner FROM steps WHERE id IN ({marks})"
            " AND NOT (status = 'running' AND lease_owner = ?)",
            [*ids, self.owner],
        )
        fenced = []
        for row in rows:
            running = self.running.get(row["id"])
            if running is not None and not running.cancelled.is_set():
                running.cancelled.set()
                if row["status"] not in ("cancelled", "paused"):
                    fenced.append(row)
        if fenced:  # our lease ran out (stopped, or too busy to renew) and another took over
            with self.store.write() as tx:
                runs.journal_fenced(tx, fenced, self.owner)

    async def _dispatch(self) -> None:
        if self.stopping:
            return
        try:
            if not self.store.setting("paused", False):
                self._claim_and_start()
        finally:
            self._arm_timer()

    def _claim_and_start(self) -> None:
        capacity = self.max_parallel - len(self.running)
        if capacity <= 0 or not self._work_waiting():
            if self.model.model is None and self._model_waits_due():
                with self.store.write() as tx:
                    lifecycle.sync_model_waits(tx, self.model.model)
            return
        ex = self.settings.executor
        claim_limits = runs.ClaimLimits(
            ex.max_parallel,  # the global limit; self.max_parallel caps this process alone
            ex.per_goal_parallel,
            ex.lease_seconds,
            self.settings.limits.daily_executions,
            self.settings.limits.tools,
        )
        sync_waits = self._model_waits_due()
        with self.store.write() as tx:
            if sync_waits:
                lifecycle.sync_model_waits(tx, self.model.model)
            claimed = runs.claim(
                tx, self.owner, claim_limits, capacity, llm=self.model.model is not None
            )
        for step in claimed:
            running = RunningStep(step)
            self.running[step["id"]] = running
            running.task = asyncio.create_task(self._run_step(running), name=f"step-{step['id']}")

    def _work_waiting(self) -> bool:
        return readiness.work_waiting(self.store, with_model=self.model.model is not None)

    def _arm_timer(self) -> None:
        """A date trigger at the next timed event: a retry, a reopening window, an approval
        timing out or a schedule firing. Earlier events replace later ones."""
        when = readiness.next_timed_event(self.store)
        if when is None or self.scheduler is None or self.stopping:
            return
        now = self.store.clock()
        if self._retry_at is not None and now < self._retry_at <= when:
            return
        self._retry_at = when
        self.scheduler.add_job(
            self._guard(self._timer_fired),
            "date",
            id="timer",
            replace_existing=True,
            misfire_grace_time=None,
            run_date=datetime.now().astimezone() + timedelta(seconds=max(0.0, when - now)),
        )

    async def _timer_fired(self) -> None:
        self._retry_at = None
        await self._tick()

    # -- running one step --------------------------------------------------------------------

    async def _run_step(self, running: RunningStep) -> None:
        step = running.step
        try:
            if step["kind"] == "tool":
                await self.actions.run_tool_step(running)
            elif step["kind"] == "agent":
                await AgentStep(self, running).run()
            else:
                await PlanStep(self, running).run()
        except StaleState as exc:
            log.info("step %s: %s", step["id"], exc)
            if not running.interrupted:  # a shutdown leaves its actions to crash recovery
                self._abandon(running, f"internal error: {exc}")
        except Exception as exc:
            self._report_error(f"step '{step['key']}' (goal {step['goal_id']}) crashed", exc)
            self._abandon(running, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self.running.pop(step["id"], None)
            self._changed.set()
            self.wake()

    def _abandon(self, running: RunningStep, error: str) -> None:
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

    @property
    def model(self) -> llm.ModelChoice:
        """The model this executor calls (``model`` is ``None`` when there is none)."""
        return self.models.choice

    async def tool(self, name: str) -> Tool | None:
        """A built-in tool, or an MCP server's (``SERVER.tool``) once the servers have started."""
        builtin = get_tool(name)
        if builtin is not None or "." not in name or self.mcp is None:
            return builtin
        if self._mcp_ready is not None:
            await asyncio.wait({self._mcp_ready})
        return self.mcp.get(name)

    async def tools(self) -> dict[str, Tool]:
        """Every tool this executor can run, keyed by the name a model calls it by."""
        every = dict(builtin_tools())
        if self.mcp is not None:
            if self._mcp_ready is not None:
                await asyncio.wait({self._mcp_ready})
            every.update(self.mcp.tools)
        return {t.schema()["name"]: t for t in every.values()}

    def _mcp_event(self, kind: str, message: str) -> None:
        try:
            with self.store.write() as tx:
                tx.event(kind, message)
        except Exception:
            log.exception("could not record an MCP event")

    def workspace(self, goal: Row) -> Path:
        path = Path(goal["workspace"])
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- waiting -----------------------------------------------------------------------------

    def is_idle(self) -> bool:
        """Nothing ready (and claimable), running or in retry wait, in any process."""
        if self.running or readiness.schedule_due(self.store):
            return False
        return readiness.nothing_to_do(self.store, with_model=self.model.model is not None)

    async def run_until_idle(self, settle: float = 0.05) -> None:
        """Return once :meth:`is_idle` holds twice in a row ``settle`` seconds apart."""
        while True:
            self._changed.clear()
            if self.is_idle():
                await asyncio.sleep(settle)
                if self.is_idle():
                    return
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=0.25)
            except TimeoutError:
                pass


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
