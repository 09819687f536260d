"""The executor: an APScheduler ``AsyncIOScheduler`` on the running loop that claims and runs steps.

Used unchanged by the TUI, ``agent-tui worker`` and ``agent-tui serve``. Dispatch runs at once when
something may have become runnable (``wake``), every second as a safety net, and whenever
``PRAGMA data_version`` shows that another process committed. Nothing here fails silently: every
exception in background work becomes an event, a state with its reason, and a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import ValidationError

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core import (
    context,
    control,
    lifecycle,
    limits,
    liveness,
    llm,
    model_calls,
    model_probe,
    runs,
    schedules,
    secrets,
    spool,
)
from agent_tui.core import retention as history
from agent_tui.core.agent import AgentStep, PlanStep
from agent_tui.core.checkpoints import around, retention
from agent_tui.core.decisions import verdict_for
from agent_tui.core.events import OutputChunk, Sink
from agent_tui.core.output import OutputWriter
from agent_tui.core.states import StepStatus
from agent_tui.core.store import Event, Row, StaleState, Store, is_full, open_store
from agent_tui.core.templates import TemplateError, render
from agent_tui.core.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    TransientToolError,
)
from agent_tui.core.tools.offload import PREVIEW_TIMEOUT, off_loop
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


@dataclass
class RunningStep:
    """A step this process is running."""

    step: Row
    task: asyncio.Task[None] | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False
    """Stopped by the executor's shutdown, not by the user: recovered like a crash."""
    ended: set[int] = field(default_factory=set)
    """Actions whose tool returned: their outcome is known even if recording it failed."""


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
        self.model = (
            llm.ModelChoice(settings.model, "configured", settings.llm.api_base)
            if (settings.model)
            else llm.ModelChoice(None, "not detected yet")
        )
        self._data_version = 0
        self._changed = asyncio.Event()
        self.webhooks = WebhookDelivery(store, settings.webhooks) if settings.webhooks else None
        self.mcp: McpManager | None = None
        self._mcp_ready: asyncio.Task[Any] | None = None
        self._retry_at: float | None = None
        self._wake_pending = False
        self._schedule_at: float | None = None
        self.endpoints = model_calls.Endpoints(settings.llm.max_concurrent)
        self._windows: dict[str | None, int | None] = {}
        self._probe_delay: float | None = None
        self.spool = spool.Spool(spool.spool_dir(store.path))
        self._spooling: set[int] = set()
        """Actions whose spooled result this process is recording right now."""
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
            self.model = await asyncio.to_thread(
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
        self._replay_spool()
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
                limits.release_due(tx)
                runs.promote_due_retries(tx)
                self._sync_model_waits(tx)
                expired = control.expire_due(tx)
            if expired:
                log.info("%d approval(s) timed out and were denied", expired)
            await self._check_unreachable()
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

    def context_window(self) -> int | None:
        """The current model's context window in tokens (``None``: unknown), looked up once."""
        model = self.model.model
        configured = self.settings.llm.context_window
        if model not in self._windows:
            if not configured and not llm.litellm_loaded():
                return None  # litellm's map is read once it is loaded (by the first call)
            self._windows[model] = context.window_of(model, configured)
        return self._windows[model]

    def learn_window(self, refused: int) -> None:
        """A prompt of ``refused`` tokens overflowed: take the window to be below that."""
        known = self.context_window()
        if known is None or known >= refused:
            self._windows[self.model.model] = max(256, refused * 3 // 4)

    def probe_delay(self) -> float:
        """Seconds until the next check of an unreachable model server: short at first, then
        doubling up to a minute; a successful check starts over."""
        first = max(self.settings.retry.base_delay, min(5.0, self.settings.llm.retry_window / 8))
        delay = first if self._probe_delay is None else min(60.0, self._probe_delay * 2)
        self._probe_delay = delay
        return delay

    async def _check_unreachable(self) -> None:
        """Goals waiting for an unreachable model whose check is due: ask the server; resume
        them if it answers, else set the next check."""
        now = self.store.clock()
        rows = self.store.all(
            "SELECT id, started_at, status_message FROM goals WHERE status = 'waiting'"
            " AND wait_reason = 'model unreachable' AND resume_at <= ?",
            (now,),
        )
        if not rows:
            return
        probe = await model_probe.reachable(self.model.api_base)
        with self.store.write() as tx:
            if probe.ok:
                self._probe_delay = None
            else:
                resume_at = tx.now + self.probe_delay()
            for row in rows:
                current = tx.one("SELECT status, wait_reason FROM goals WHERE id = ?", (row["id"],))
                if current is None or current["wait_reason"] != "model unreachable":
                    continue
                if probe.ok:
                    lifecycle.resume_goal(tx, row, f"the model answers again: {probe.detail}")
                    continue
                when = datetime.fromtimestamp(resume_at).strftime("%H:%M:%S")
                head = (row["status_message"] or "").split("; next check at")[0]
                text = f"{head}; next check at {when}"
                tx.execute(
                    "UPDATE goals SET resume_at = ?, status_message = ? WHERE id = ?",
                    (resume_at, text, row["id"]),
                )
                tx.event(
                    "goal.waiting",
                    f"still no answer: {probe.detail}; next check at {when}",
                    goal_id=row["id"],
                    reason="model unreachable",
                    resume_at=resume_at,
                )

    def _model_waits_due(self) -> bool:
        """Goals to put in (or take out of) waiting for a model; see ``_sync_model_waits``."""
        if self.model.model is not None:
            row = self.store.conn.execute(
                "SELECT EXISTS(SELECT 1 FROM goals WHERE status = 'waiting'"
                " AND wait_reason = 'no model')"
            ).fetchone()
        else:
            row = self.store.conn.execute(
                "SELECT EXISTS(SELECT 1 FROM steps WHERE status = 'ready' AND kind != 'tool')"
            ).fetchone()
        return bool(row[0])

    def _timed_work_due(self) -> bool:
        row = self.store.conn.execute(
            "SELECT EXISTS(SELECT 1 FROM schedules WHERE enabled = 1 AND next_run_at <= :now)"
            " OR EXISTS(SELECT 1 FROM goals WHERE status = 'waiting' AND resume_at <= :now)"
            " OR EXISTS(SELECT 1 FROM approvals WHERE status = 'pending'"
            "           AND expires_at <= :now)"
            " OR EXISTS(SELECT 1 FROM steps WHERE status = 'retry_wait'"
            "           AND next_attempt_at <= :now)"
            " OR (:failures > 0 AND EXISTS(SELECT 1 FROM schedules WHERE enabled = 1"
            "           AND failure_streak >= :failures))",
            {"now": self.store.clock(), "failures": self.settings.schedules.pause_after_failures},
        ).fetchone()
        return bool(row[0])

    def _schedule_due(self) -> bool:
        row = self.store.one("SELECT min(next_run_at) AS t FROM schedules WHERE enabled = 1")
        return bool(row and row["t"] is not None and row["t"] <= self.store.clock())

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
        self._replay_spool()  # before recovery: a result known is never asked about
        dead = [o for o in liveness.dead_local_owners(self.store) if o != self.owner]
        expired = self.store.one(
            "SELECT 1 AS x FROM steps WHERE status = 'running' AND lease_expires < ? LIMIT 1",
            (self.store.clock(),),
        )
        self._note_outlived()
        if not dead and expired is None:
            return  # nothing to recover: no write (an idle executor commits nothing here)
        with self.store.write() as tx:
            if dead:  # gone for certain: recover their steps now, not when the lease expires
                marks = ",".join("?" for _ in dead)
                tx.execute(
                    f"UPDATE steps SET lease_expires = 0 WHERE status = 'running'"
                    f" AND lease_owner IN ({marks})",
                    dead,
                )
                tx.execute(f"DELETE FROM workers WHERE id IN ({marks})", dead)
            # No process could renew a lease while this one waited for the database: for one
            # lease after such a wait, an expired lease is no sign of death; only the dead lose.
            stalled = tx.now - self.store.waited_until < self.settings.executor.lease_seconds
            notes = runs.recover_expired(tx, owners=dead if stalled else None)
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
                for row in fenced:
                    tx.event(
                        "action.fenced",
                        f"step '{row['key']}' was taken over after this process lost its lease;"
                        " its command here is stopped",
                        goal_id=row["goal_id"],
                        step_id=row["id"],
                        owner=self.owner,
                    )

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
                    self._sync_model_waits(tx)
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
                self._sync_model_waits(tx)
            claimed = runs.claim(
                tx, self.owner, claim_limits, capacity, llm=self.model.model is not None
            )
        for step in claimed:
            running = RunningStep(step)
            self.running[step["id"]] = running
            running.task = asyncio.create_task(self._run_step(running), name=f"step-{step['id']}")

    def _work_waiting(self) -> bool:
        """Whether a ready step this executor may run exists (a cheap read before a claim)."""
        row = self.store.conn.execute(
            "SELECT EXISTS(SELECT 1 FROM steps WHERE status = 'ready' AND (kind = 'tool' OR ?))",
            (self.model.model is not None,),
        ).fetchone()
        return bool(row[0])

    def _sync_model_waits(self, tx: Any) -> None:
        """Without a model, goals whose only runnable steps need one wait (reason ``no model``);
        with one, such goals go on."""
        if self.model.model is not None:
            for row in tx.all(
                "SELECT id, started_at FROM goals WHERE status = 'waiting'"
                " AND wait_reason = 'no model'"
            ):
                new = "running" if row["started_at"] else "queued"
                tx.set_status(
                    "goal", row["id"], "waiting", new, wait_reason=None, status_message=None
                )
                tx.event(
                    "goal.resumed", f"model {self.model.model} is available", goal_id=row["id"]
                )
            return
        rows = tx.all(
            "SELECT g.id, g.status FROM goals g WHERE g.status IN ('queued', 'running', 'planning')"
            " AND EXISTS(SELECT 1 FROM steps s WHERE s.goal_id = g.id AND s.status = 'ready'"
            "            AND s.kind != 'tool')"
            " AND NOT EXISTS(SELECT 1 FROM steps s WHERE s.goal_id = g.id AND (s.status IN"
            "            ('running', 'retry_wait') OR (s.status = 'ready' AND s.kind = 'tool')))"
        )
        message = f"no model is configured: {llm.HOW_TO_CONFIGURE}; recipes run without one"
        for row in rows:
            lifecycle.wait_goal(tx, row["id"], "no model", message)

    def _arm_timer(self) -> None:
        """A date trigger at the next timed event: a retry, a reopening window, an approval
        timing out or a schedule firing. Earlier events replace later ones."""
        row = self.store.conn.execute(
            "SELECT min(t) FROM ("
            " SELECT min(next_attempt_at) AS t FROM steps WHERE status = 'retry_wait'"
            " UNION ALL SELECT min(resume_at) FROM goals WHERE status = 'waiting'"
            " UNION ALL SELECT min(expires_at) FROM approvals WHERE status = 'pending'"
            " UNION ALL SELECT min(next_run_at) FROM schedules WHERE enabled = 1)"
        ).fetchone()
        when = row[0] if row else None
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
                await self._run_tool_step(running)
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
        self._replay_spool()  # a result this step spooled but could not record is kept
        try:
            with self.store.write() as tx:
                runs.abandon_step(tx, step, self.owner, error, ended=running.ended)
        except Exception as exc:
            if not is_full(exc):  # a full disk is said once, by the store
                log.exception("could not record the failure of step %s", step["id"])

    def _retry_delay(self, attempt: int) -> float:
        retry = self.settings.retry
        return runs.backoff_delay(attempt, retry.base_delay, retry.factor, retry.max_delay)

    @contextmanager
    def _spooled(self, action_id: int, step: Row, outcome: runs.Outcome) -> Iterator[None]:
        """Make ``outcome`` durable in the spool while the block records it; forget it once the
        block's transaction committed. If the block fails, the spooled result stays, and is
        replayed (by this process, or any on this host if this one dies)."""
        entry = spool.Spooled(
            action_id=action_id,
            step_id=step["id"],
            owner=self.owner,
            pid=self.spool.pid,
            started_at=self.spool.started_at,
            ok=outcome.ok,
            output=outcome.output,
            data=outcome.data,
            error=outcome.error,
            transient=outcome.transient,
            cancelled=outcome.cancelled,
            written_at=self.store.clock(),
        )
        self._spooling.add(action_id)
        try:
            path = self.spool.put(entry)
            yield
            self.spool.done(path)
        finally:
            self._spooling.discard(action_id)

    def _replay_spool(self) -> None:
        """Record the spooled results that no running code will record: those of processes that
        are gone, and this process's own whose transaction failed."""
        for path, entry in self.spool.entries():
            if entry.owner == self.owner:
                if entry.action_id in self._spooling:
                    continue
            elif entry.owner_alive():
                continue
            outcome = runs.Outcome(
                ok=entry.ok,
                output=entry.output,
                data=entry.data,
                error=entry.error,
                transient=entry.transient,
                cancelled=entry.cancelled,
            )
            step = self.store.one("SELECT attempt FROM steps WHERE id = ?", (entry.step_id,))
            delay = self._retry_delay(step["attempt"] if step else 1)
            try:
                with self.store.write() as tx:
                    note = runs.apply_spooled(
                        tx, entry.action_id, entry.owner, outcome, retry_delay=delay
                    )
            except Exception as exc:
                if not is_full(exc):
                    log.exception(
                        "could not record the spooled result of action %s", entry.action_id
                    )
                continue
            self.spool.done(path)
            if note:
                log.warning(note)
                self.wake()

    def _fail_before_action(self, step: Row, error: str) -> None:
        with self.store.write() as tx:
            runs.fail_step(tx, step, error)

    async def _run_tool_step(self, running: RunningStep) -> None:
        step = running.step
        tool = await self.tool(step["tool"] or "")
        if tool is None:
            self._fail_before_action(step, f"unknown tool '{step['tool']}'")
            return
        goal = self.store.one("SELECT * FROM goals WHERE id = ?", (step["goal_id"],))
        assert goal is not None
        workspace = Path(goal["workspace"])
        started = await self._start_action(step, goal, tool, workspace)
        if started is None:
            return
        action_id, args = started
        result, writer = await self._run_tool(running, tool, args, action_id, workspace)
        if result is not None and not result.data.get("interrupted"):
            running.ended.add(action_id)  # its outcome is known
        if result is None:
            return
        if self._cut_off(running, tool, result, step, action_id, writer):
            return
        outcome = runs.Outcome.of(result, running.cancelled.is_set())
        delay = self._retry_delay(step["attempt"])
        with self._spooled(action_id, step, outcome):
            try:
                with self.store.write() as tx:
                    writer.close(tx)
                    runs.finish_action(tx, action_id, step, outcome, retry_delay=delay)
            finally:
                writer.close()

    def _record_process(self, action_id: int, pid: int) -> None:
        """Store the command's process on its action (see :func:`liveness.process_record`); a
        failure to store it never stops the command."""
        try:
            with self.store.write() as tx:
                tx.execute(
                    "UPDATE actions SET process = ? WHERE id = ?",
                    (liveness.process_record(pid), action_id),
                )
        except Exception as exc:
            if not is_full(exc):
                log.exception("could not record the process of action %s", action_id)

    async def _run_tool(
        self, running: RunningStep, tool: Tool, args: ToolArgs, action_id: int, workspace: Path
    ) -> tuple[ToolResult | None, OutputWriter]:
        """Run a started action's tool, streaming its output; ``None`` if shutdown interrupted it."""
        step = running.step
        writer = OutputWriter(
            self.store,
            goal_id=step["goal_id"],
            step_id=step["id"],
            action_id=action_id,
            cap=self.settings.limits.output_cap_bytes,
            log_dir=self.output_dir,
            on_chunk=self.report_output,
        )
        decided = self.store.one(
            "SELECT decision, decision_reason FROM actions WHERE id = ?", (action_id,)
        )
        ctx = ToolContext(
            workspace=workspace,
            emit=writer.emit,
            goal_id=step["goal_id"],
            step_id=step["id"],
            action_id=action_id,
            cancelled=running.cancelled,
            save_document=self._document_saver(step, action_id),
            settings=self.settings,
            decision=decided["decision"] if decided else "allow",
            decision_reason=(decided["decision_reason"] or "") if decided else "",
            on_process=lambda pid: self._record_process(action_id, pid),
        )
        pending = None
        if tool.side_effects:
            pending = await around.before(
                self.store, self.settings, workspace, step["goal_id"], action_id
            )
        try:
            result = await tool.run(args, ctx)
        except ToolError as exc:
            result = ToolResult(ok=False, error=str(exc), transient=_is_transient(exc))
        except asyncio.CancelledError:
            result = ToolResult(ok=False, error="cancelled")
        except Exception as exc:
            log.exception("tool %s crashed", tool.name)
            result = ToolResult(ok=False, error=f"{tool.name} crashed: {type(exc).__name__}: {exc}")
        if running.interrupted:
            writer.close()
            return None, writer
        if writer.disk_error and result.ok:
            result = ToolResult(
                ok=False,
                output=result.output,
                data=result.data,
                error=f"{writer.disk_error}: the command ran, but its output was not all kept",
            )
        if pending is not None:
            await around.after(self.store, pending, step["goal_id"], step["id"])
        redactor = self.store.redactor
        if redactor:
            result = ToolResult(
                ok=result.ok,
                output=redactor.redact(result.output),
                data=redactor.redact_value(result.data),
                error=redactor.redact(result.error) if result.error else None,
                transient=result.transient,
            )
        return result, writer

    def _cut_off(
        self,
        running: RunningStep,
        tool: Tool,
        result: ToolResult,
        step: Row,
        action_id: int,
        writer: OutputWriter,
    ) -> bool:
        """A side-effecting action cut off mid-way (its MCP server died) is never retried
        blindly: it becomes ``unknown`` for a human to decide. True if that happened."""
        if not (tool.side_effects and result.data.get("interrupted")) or (
            running.cancelled.is_set()
        ):
            return False
        try:
            with self.store.write() as tx:
                writer.close(tx)
                if runs.still_ours(tx, step) is not None:
                    runs.interrupted_unknown(tx, step, action_id, result.error or "cut off")
        finally:
            writer.close()
        return True

    def mark_running(self, tx: Any, step: Row, tool: Tool, action_id: int, preview: str) -> None:
        """Start an approved action inside the caller's transaction."""
        runs.start_action(tx, action_id, self.owner)
        lines = (preview or tool.name).splitlines()
        summary = lines[0] + (" …" if len(lines) > 1 else "")
        tx.event(
            "action.running",
            f"{tool.name}: {summary}",
            goal_id=step["goal_id"],
            step_id=step["id"],
            action_id=action_id,
        )

    async def execute(
        self,
        running: RunningStep,
        tool: Tool,
        args: ToolArgs,
        action_id: int,
        workspace: Path,
        *,
        started: bool = False,
        after: Callable[[Any, ToolResult], None] | None = None,
    ) -> ToolResult | None:
        """Run an action (starting it unless ``started``) and record its end; ``after`` adds
        writes to that same transaction. The step stays running."""
        step = running.step
        workspace.mkdir(parents=True, exist_ok=True)
        if not started:
            with self.store.write() as tx:
                runs.ensure_still_running(tx, step["id"], self.owner)
                row = tx.one("SELECT preview FROM actions WHERE id = ?", (action_id,))
                self.mark_running(tx, step, tool, action_id, (row or {}).get("preview") or "")
        result, writer = await self._run_tool(running, tool, args, action_id, workspace)
        if result is not None and not result.data.get("interrupted"):
            running.ended.add(action_id)  # its outcome is known
        if result is None:
            raise StaleState("interrupted by shutdown")
        if self._cut_off(running, tool, result, step, action_id, writer):
            raise StaleState("interrupted: a human decides")
        cancelled = running.cancelled.is_set()
        outcome = runs.Outcome.of(result, cancelled)
        with self._spooled(action_id, step, outcome):
            try:
                with self.store.write() as tx:
                    writer.close(tx)
                    runs.record_action(tx, action_id, step, outcome, tool.name)
                    lost = runs.still_ours(tx, step) is None
                    if after is not None and not cancelled and not lost:
                        after(tx, result)
            finally:
                writer.close()
        if cancelled or lost:
            raise StaleState("cancelled" if cancelled else "the step is no longer ours")
        return result

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

    async def _start_action(
        self, step: Row, goal: Row, tool: Tool, workspace: Path
    ) -> tuple[int, ToolArgs] | None:
        """Record (or resume) the step's action and mark it running; ``None`` if it must not run.

        A new action has its arguments rendered, the policy applied and, when allowed, is started
        in the same transaction. An action approved in the queue is resumed as it was approved.
        """
        approved = None
        if step["wait_reason"] is not None or step["attempt"] > 1:  # may resume an approval
            approved = self.store.one(
                "SELECT * FROM actions WHERE step_id = ? AND status = 'approved' ORDER BY id DESC"
                " LIMIT 1",
                (step["id"],),
            )
        if approved is not None:
            raw_args, preview = json.loads(approved["args"]), approved["preview"] or ""
        else:
            results = (
                runs.dependency_results(self.store, step["id"]) if "{{" in step["args"] else {}
            )
            try:
                raw_args = render(json.loads(step["args"]), results)
            except TemplateError as exc:
                self._fail_before_action(step, f"template: {exc}")
                return None
        workspace.mkdir(parents=True, exist_ok=True)
        try:
            args = tool.parse(raw_args)
            if approved is None:
                what = f"{tool.name} preview"
                preview = await off_loop(
                    tool.preview, args, workspace, timeout=PREVIEW_TIMEOUT, what=what
                )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            self._fail_before_action(step, f"{tool.name} args.{where}: {err['msg']}")
            return None
        except ToolError as exc:
            self._fail_before_action(step, str(exc))
            return None
        if approved is None:
            verdict = await verdict_for(
                self.store, self.settings, tool, raw_args, step["approval"], workspace=workspace
            )
            if verdict.detail:
                preview = f"{preview}\n\n{verdict.detail}"
        with self.store.write() as tx:
            runs.ensure_still_running(tx, step["id"], self.owner)
            if (
                approved is None
                and self.settings.limits.tools.get(tool.name)
                and (hit := limits.tool_limit(tx, tool.name, self.settings))
            ):
                limits.hold_step(tx, step, "rate limit", *hit)
                return None
            if approved is not None:
                action_id = approved["id"]
            else:
                dry_run = bool(goal["dry_run"]) or bool(self.store.setting("dry_run", False))
                action_id, next_move = runs.propose_action(
                    tx,
                    step,
                    tool=tool.name,
                    args=raw_args,
                    side_effects=tool.side_effects,
                    decision=verdict.decision,
                    reason=verdict.reason,
                    preview=preview,
                    dry_run=dry_run,
                )
                if next_move != "run":
                    return None
            runs.start_action(tx, action_id, self.owner)
            lines = preview.splitlines()
            summary = (lines[0] + (" …" if len(lines) > 1 else "")) if lines else tool.name
            tx.event(
                "action.running",
                f"{tool.name}: {summary}",
                goal_id=step["goal_id"],
                step_id=step["id"],
                action_id=action_id,
            )
        return action_id, args

    def _document_saver(
        self, step: Row, action_id: int
    ) -> Callable[[str, str, str], tuple[int, int]]:
        def save(name: str, content: str, mime: str) -> tuple[int, int]:
            with self.store.write() as tx:
                row = tx.one(
                    "SELECT max(version) AS v FROM artifacts WHERE goal_id = ? AND name = ?",
                    (step["goal_id"], name),
                )
                version = (row["v"] or 0) + 1 if row else 1
                artifact_id = tx.insert(
                    "artifacts",
                    {
                        "goal_id": step["goal_id"],
                        "step_id": step["id"],
                        "action_id": action_id,
                        "name": name,
                        "version": version,
                        "mime": mime,
                        "content": content,
                        "created_at": tx.now,
                    },
                )
                tx.event(
                    "artifact.saved",
                    f"document '{name}' saved (version {version})",
                    goal_id=step["goal_id"],
                    step_id=step["id"],
                    action_id=action_id,
                    artifact_id=artifact_id,
                )
            return artifact_id, version

        return save

    # -- waiting -----------------------------------------------------------------------------

    def is_idle(self) -> bool:
        """Nothing ready (and claimable), running or in retry wait, in any process."""
        if self.running or self._schedule_due():
            return False
        paused = bool(self.store.setting("paused", False))
        row = self.store.conn.execute(
            "SELECT EXISTS(SELECT 1 FROM steps WHERE status IN ('running', 'retry_wait'))"
            " OR (? = 0 AND EXISTS(SELECT 1 FROM steps s JOIN goals g ON g.id = s.goal_id"
            "      WHERE s.status = 'ready' AND g.status IN ('queued', 'running', 'planning')"
            "      AND g.archived = 0 AND (s.kind = 'tool' OR ?)))",
            (int(paused), self.model.model is not None),
        ).fetchone()
        return not row[0]

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


def _is_transient(exc: ToolError) -> bool:
    return isinstance(exc, TransientToolError)


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
