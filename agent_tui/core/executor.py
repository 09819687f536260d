"""The executor: an APScheduler ``AsyncIOScheduler`` on the running loop that claims and runs steps.

Used unchanged by the TUI, ``agent-tui worker`` and ``agent-tui serve``. Dispatch runs at once when
something may have become runnable: here (``wake``), or in another process, which rings this one's
doorbell after its commit (:mod:`agent_tui.core.store.wakes`). A check of ``PRAGMA data_version``
every ``watch_interval_ms`` and a dispatch every tenth tick are only safety nets. Nothing here fails silently: every
exception in background work becomes an event, a state with its reason, and a log line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core import limits, llm, secrets, timed_work
from agent_tui.core.actions import Actions, RunningStep
from agent_tui.core.agent import AgentStep, PlanStep
from agent_tui.core.events import Fanout, OutputChunk, Sink
from agent_tui.core.guard import Guard
from agent_tui.core.model_state import ModelState
from agent_tui.core.recovery import Recovery
from agent_tui.core.states import StepStatus
from agent_tui.core.store import (
    Event,
    Record,
    Row,
    StaleState,
    Store,
    lifecycle,
    liveness,
    readiness,
    runs,
)
from agent_tui.core.store.placement import Placement
from agent_tui.core.store.wakes import Listening
from agent_tui.core.timed_work import Housekeeping
from agent_tui.core.toolbox import Toolbox
from agent_tui.core.tools.base import Tool
from agent_tui.core.webhooks import WebhookDelivery

log = logging.getLogger("agent_tui.executor")

S = StepStatus

WARMUP_DELAY = 2.0
"""Seconds after start before litellm is imported in the background."""

TICK_SECONDS = 1.0
"""Timed work this often (and the ``data_version`` check, if ``watch_interval_ms`` is not shorter)."""

QUIET_TICKS = 10
"""A tick dispatches only if something may have changed since the last dispatch, or on every
so many ticks anyway: the deepest safety net, which an idle executor pays for once in ten."""

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
        self.fanout = Fanout(self.sinks)
        self.output_dir = output_dir or paths.outputs_dir()
        self._last_beat = 0.0
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[int, RunningStep] = {}
        self.scheduler: AsyncIOScheduler | None = None
        self.stopping = False
        self.guard = Guard(store, lambda: self.stopping)
        """Runs the jobs: nothing they raise is lost."""
        self.models = ModelState(settings)
        """The model, its window and the probe of an unreachable server."""
        self._data_version = 0
        self._changed = asyncio.Event()
        self._doorbell: Listening | None = None
        self.webhooks = WebhookDelivery(store, settings.webhooks) if settings.webhooks else None
        self.toolbox = Toolbox(store, settings)
        """The built-in tools and the MCP servers'."""
        self.housekeeping = Housekeeping(store, settings, self.output_dir, self.guard)
        self._retry_at: float | None = None
        self._wake_pending = False
        self._dispatch_failed = False
        self._ticks = 0
        self._timed_at = float("-inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self.placement = Placement(
            settings.executor.host or socket.gethostname(),
            tuple(settings.executor.labels),
            settings.executor.shared_workspaces,
        )
        """Which goals this executor runs: their label, and the host their workspace is on."""
        self.actions = Actions(
            store,
            settings,
            owner=self.owner,
            host=self.placement.host,
            output_dir=self.output_dir,
            report_output=self.report_output,
            find_tool=self.tool,
            wake=self.wake,
        )
        """The action pipeline: every tool call, a recipe step's or a model's, goes through it."""
        self.recovery = Recovery(store, settings, self.owner, self.running, self.actions)
        store.listeners.append(self._on_event)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, *, detect_model: bool = True) -> None:
        """Register this process, recover dead processes' steps, start the jobs, dispatch.

        The model is chosen (config, provider keys, Ollama) off the loop, and litellm is imported
        in the background so the first model call does not wait for it.
        """
        loop = asyncio.get_running_loop()
        self.store.redactor = secrets.for_settings(self.settings)
        self.toolbox.start()
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
            liveness.register(
                tx,
                self.owner,
                self.kind,
                self.placement.names,
                shared_workspaces=self.placement.shared_workspaces,
            )
            tx.event("executor.started", f"{self.kind} executor started ({self.owner})")
        self.actions.replay_spool()
        self.recovery.note_outlived()
        self._data_version = self.store.data_version()
        self._doorbell = self.store.wakes.listen(loop, self._rung)
        ex = self.settings.executor
        jobs: dict[str, tuple[Callable[[], Awaitable[object]], float, bool]] = {
            # id: (job, every so many seconds, whether it runs at once)
            # One job, not two, wakes an idle executor (a tick also notices other commits).
            "tick": (self._tick, min(TICK_SECONDS, ex.watch_interval_ms / 1000), True),
            "heartbeat": (self._heartbeat, ex.heartbeat_seconds, False),
            "reap": (self._reap, max(1.0, ex.lease_seconds / 3), True),
        }
        if self.webhooks is not None:
            jobs["webhooks"] = (self.webhooks.deliver_due, 1.0, False)
        sched = self.scheduler = AsyncIOScheduler(event_loop=loop)
        for name, (job, seconds, at_once) in jobs.items():
            first = {"next_run_time": datetime.now().astimezone()} if at_once else {}
            sched.add_job(
                self.guard(job),
                "interval",
                seconds=seconds,
                id=name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                **first,
            )
        sched.start()
        self._loop = loop
        self.wake()

    async def stop(self, *, grace: float | None = 10.0, force: asyncio.Event | None = None) -> None:
        """Stop claiming; let running steps finish, then interrupt what is left and recover it.

        Running steps get ``grace`` seconds (``None``: as long as they take) or until ``force`` is
        set. Interrupted side-effecting actions become ``unknown`` for a human to decide.
        """
        if self.stopping:
            return
        self.stopping = True
        self.store.stopping = True  # a database server that went away is not waited for now
        if self._doorbell is not None:
            self._doorbell.close()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.recovery.drain(grace, force)
        try:
            with self.store.write() as tx:
                runs.give_back(tx, self.owner)
                liveness.unregister(tx, self.owner)
                tx.event("executor.stopped", f"{self.kind} executor stopped ({self.owner})")
        except Exception:
            log.exception("could not record the executor's stop")
        if self.webhooks is not None:
            try:
                await self.webhooks.close()
            except Exception:
                log.exception("could not deliver the last webhooks")
        await self.toolbox.stop()
        if self._on_event in self.store.listeners:
            self.store.listeners.remove(self._on_event)

    def wake(self) -> None:
        """Dispatch as soon as possible (something may have become runnable): at the loop's next
        turn, straight from the loop, not through the scheduler's job queue (a dispatch does not
        wait for anything, so it needs no job of its own). Call it on the executor's loop."""
        if self._loop is None or self.stopping or self._wake_pending:
            return  # a dispatch is already on its way: wakes coalesce
        self._wake_pending = True
        self._loop.call_soon(self._woken)

    def heard(self, event: Event) -> None:
        """React to an event committed in this process (here, or on another connection that
        forwards its events, as the TUI's does): dispatch if it can make work runnable, stop
        what it cancelled. Call it on the executor's loop."""
        self._changed.set()
        if event.kind in WAKING_EVENTS:
            self.wake()
        elif event.kind == "goal.cancelled":
            self.recovery.check_lost()

    def _woken(self) -> None:
        self._wake_pending = False
        self.guard.now("dispatch failed", self._dispatch_now)

    # -- reporting ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.heard(event)
        self.fanout.on_event(event)

    def report_output(self, chunk: OutputChunk) -> None:
        """Pass a chunk of live output (a tool's, or a model's text) to the sinks."""
        self.fanout.on_output(chunk)

    # -- jobs --------------------------------------------------------------------------------

    async def _tick(self, *, dispatch: bool = False) -> None:
        """Notice other connections' commits; timed work (schedules, reopened windows, expired
        approvals) when due; then a dispatch if anything may have changed since the last one
        (a commit noticed, timed work done, a dispatch that failed), or on every
        :data:`QUIET_TICKS`-th tick."""
        dispatch = self._notice() or dispatch or self._dispatch_failed
        now = time.monotonic()
        if now - self._timed_at >= TICK_SECONDS - 0.05:
            self._timed_at = now
            if timed_work.due(self.store, self.settings, self.models):
                await timed_work.run_due(self.store, self.settings, self.models)
                dispatch = True
            self.housekeeping.maybe_start()
        self._ticks += 1
        if dispatch or self._ticks % QUIET_TICKS == 0:
            await self._dispatch()

    def _rung(self) -> None:
        """Another connection committed (its ring): look again at once. A ring is never this
        connection's own, so no ``data_version`` read tells it apart (a round trip saved)."""
        if self.stopping:
            return
        try:
            self._changed.set()
            self.recovery.check_lost()
            self.wake()
        except Exception as exc:
            self.guard.report("noticing another process's change failed", exc)

    def _notice(self) -> bool:
        """If another connection committed since last time, look again at what it may change;
        whether one did."""
        version = self.store.data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        self._changed.set()
        self.recovery.check_lost()
        self.wake()
        return True

    async def _heartbeat(self) -> None:
        """Renew this process's leases; an executor that holds none only says it is alive, slowly
        (an idle worker commits every 10 s, not at every beat)."""
        now = self.store.clock()
        if not self.running and now - self._last_beat < liveness.IDLE_BEAT_SECONDS:
            return
        with self.store.write(ring=False) as tx:
            runs.renew_leases(
                tx, self.owner, self.settings.executor.lease_seconds, list(self.running)
            )
        self._last_beat = now
        self.recovery.check_lost()

    async def _reap(self) -> None:
        if self.recovery.reap():
            self.wake()

    async def _dispatch(self) -> None:
        self._dispatch_now()

    def _dispatch_now(self) -> None:
        if self.stopping:
            return
        self._dispatch_failed = True  # until the claim is through: the next tick tries again
        try:
            self._claim_and_start()
            self._dispatch_failed = False
        finally:
            # After the claimed steps' first moves: the next timed event is not on their way.
            asyncio.get_running_loop().call_soon(
                self.guard.now, "arming the timer failed", self._arm_timer
            )

    def _claim_and_start(self) -> None:
        with_model = self.model.model is not None
        paused, waiting, sync_waits = readiness.before_claim(
            self.store, with_model=with_model, placement=self.placement
        )
        if paused:
            return
        capacity = self.max_parallel - len(self.running)
        if capacity <= 0 or not waiting:
            if not with_model and sync_waits:
                with self.store.write() as tx:
                    lifecycle.sync_model_waits(tx, self.model.model)
            return
        claim_limits = limits.claim_limits(self.settings)
        goals: dict[int, Record] = {}
        with self.store.write() as tx:
            if sync_waits:
                lifecycle.sync_model_waits(tx, self.model.model)
            claimed = runs.claim(
                tx,
                self.owner,
                claim_limits,
                capacity,
                llm=with_model,
                placement=self.placement,
                busy=list(self.running),
                goals_out=goals,
            )
        for step in claimed:
            running = RunningStep(step, goal=goals.get(step.goal_id))
            self.running[step.id] = running
            running.task = asyncio.create_task(self._run_step(running), name=f"step-{step.id}")

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
            self.guard(self._timer_fired),
            "date",
            id="timer",
            replace_existing=True,
            misfire_grace_time=None,
            run_date=datetime.now().astimezone() + timedelta(seconds=max(0.0, when - now)),
        )

    async def _timer_fired(self) -> None:
        self._retry_at = None
        await self._tick(dispatch=True)

    # -- running one step --------------------------------------------------------------------

    async def _run_step(self, running: RunningStep) -> None:
        step = running.step
        try:
            if step.kind == "tool":
                await self.actions.run_tool_step(running)
            elif step.kind == "agent":
                await AgentStep(self, running).run()
            else:
                await PlanStep(self, running).run()
        except StaleState as exc:
            log.info("step %s: %s", step.id, exc)
            if not running.interrupted:  # a shutdown leaves its actions to crash recovery
                self.recovery.abandon(running, f"internal error: {exc}")
        except Exception as exc:
            self.guard.report(f"step '{step.key}' (goal {step.goal_id}) crashed", exc)
            self.recovery.abandon(running, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self.running.pop(step.id, None)
            self._changed.set()
            self.wake()

    # -- what steps use (the agent's Host) -------------------------------------------------

    @property
    def errors(self) -> int:
        """Failures of background work so far (each journalled as ``executor.error``)."""
        return self.guard.errors

    @property
    def model(self) -> llm.ModelChoice:
        """The model this executor calls (``model`` is ``None`` when there is none)."""
        return self.models.choice

    async def tool(self, name: str) -> Tool | None:
        """A built-in tool, or an MCP server's (``SERVER.tool``) once the servers have started."""
        return await self.toolbox.tool(name)

    async def tools(self) -> dict[str, Tool]:
        """Every tool this executor can run, keyed by the name a model calls it by."""
        return await self.toolbox.tools()

    def workspace(self, goal: Row) -> Path:
        path = Path(goal["workspace"])
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- waiting -----------------------------------------------------------------------------

    def is_idle(self) -> bool:
        """Nothing ready (and claimable), running or in retry wait, in any process."""
        if self.running or readiness.schedule_due(self.store):
            return False
        return readiness.nothing_to_do(
            self.store, with_model=self.model.model is not None, placement=self.placement
        )

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
