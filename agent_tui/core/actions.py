"""The action pipeline: from a tool call (a recipe step's, or a model's) to an action that is
proposed, decided, started, run and recorded.

The :class:`~agent_tui.core.executor.Executor` schedules steps and hands each tool step, and each
model's tool call, to :class:`Actions`. Both kinds go through the same stages: the arguments
parsed, the preview made off the loop, the policy's verdict (:func:`decisions.verdict_for`), dry
run and tool limits, :func:`runs.propose_action` and the ``action.running`` event in the same
transaction; then the tool runs with a checkpoint around it when it has side effects, its output
streams to the sinks and the database, and its end is made durable in the spool before the
transaction that records it (replayed if that transaction fails).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent_tui.config import Settings
from agent_tui.core import limits, spool
from agent_tui.core.checkpoints import around
from agent_tui.core.decisions import verdict_for
from agent_tui.core.events import OutputChunk
from agent_tui.core.output import OutputWriter
from agent_tui.core.store import Record, Row, StaleState, Store, Tx, is_full, liveness, runs
from agent_tui.core.store import actions as store_actions
from agent_tui.core.store import goals as store_goals
from agent_tui.core.store import limits as store_limits
from agent_tui.core.store import steps as store_steps
from agent_tui.core.store.rows import Step
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

log = logging.getLogger("agent_tui.executor")


@dataclass
class RunningStep:
    """A step this process is running."""

    step: Step
    goal: Record | None = None
    """The step's goal as its claim left it (``None``: read it when needed)."""
    task: asyncio.Task[None] | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False
    """Stopped by the executor's shutdown, not by the user: recovered like a crash."""
    ended: set[int] = field(default_factory=set)
    """Actions whose tool returned: their outcome is known even if recording it failed."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A new action as it will be proposed (see :meth:`Actions.prepare`)."""

    preview: str
    decision: str
    reason: str
    dry_run: bool


class Actions:
    """Proposes, starts, runs and records actions for the steps of one executor (``owner``)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner: str,
        host: str,
        output_dir: Path,
        report_output: Callable[[OutputChunk], None],
        find_tool: Callable[[str], Awaitable[Tool | None]],
        wake: Callable[[], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.owner = owner
        self.host = host
        """The name of this host, as its output logs are said to be on."""
        self.output_dir = output_dir
        self.report_output = report_output
        self.tool = find_tool
        self.wake = wake
        self.spool = spool.Spool(spool.spool_dir(store.path))
        self._spooling: set[int] = set()
        """Actions whose spooled result this process is recording right now."""

    def retry_delay(self, attempt: int) -> float:
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

    def replay_spool(self) -> None:
        """Record the spooled results that no running code will record: those of processes that
        are gone, and this process's own whose transaction failed."""
        for path, entry in self.spool.entries():
            if entry.owner == self.owner:
                if entry.action_id in self._spooling:
                    continue
            elif entry.owner_alive():
                continue
            outcome = entry.outcome()
            step = store_steps.step(self.store, entry.step_id)
            delay = self.retry_delay(step["attempt"] if step else 1)
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

    async def run_tool_step(self, running: RunningStep) -> None:
        step = running.step
        tool = await self.tool(step["tool"] or "")
        if tool is None:
            self._fail_before_action(step, f"unknown tool '{step['tool']}'")
            return
        goal = running.goal or store_goals.goal(self.store, step["goal_id"])
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
        delay = self.retry_delay(step["attempt"])
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
                store_actions.set_process(tx, action_id, liveness.process_record(pid))
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
            host=self.host,
            on_chunk=self.report_output,
        )
        decided = store_actions.action(self.store, action_id)
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

    def mark_running(self, tx: Tx, step: Row, tool: Tool, action_id: int, preview: str) -> None:
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
        after: Callable[[Tx, ToolResult], None] | None = None,
    ) -> ToolResult | None:
        """Run an action (starting it unless ``started``) and record its end; ``after`` adds
        writes to that same transaction. The step stays running."""
        step = running.step
        workspace.mkdir(parents=True, exist_ok=True)
        if not started:
            with self.store.write() as tx:
                runs.ensure_still_running(tx, step["id"], self.owner)
                row = store_actions.action(tx, action_id)
                preview = row.preview if row is not None else None
                self.mark_running(tx, step, tool, action_id, preview or "")
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

    async def prepare(
        self,
        tool: Tool,
        args: ToolArgs,
        raw_args: dict[str, Any],
        workspace: Path,
        goal: Row,
        *,
        step_approval: str | None = None,
    ) -> Prepared:
        """What a new action will be proposed as: its preview (made off the loop if it reads
        files, with the policy's note), the policy's verdict and whether it is a dry run. Raises
        :class:`ToolError` when the preview cannot be made."""
        if tool.preview_blocks:
            preview = await off_loop(
                tool.preview, args, workspace, timeout=PREVIEW_TIMEOUT, what=f"{tool.name} preview"
            )
        else:
            preview = tool.preview(args, workspace)
        verdict = await verdict_for(
            self.store, self.settings, tool, raw_args, step_approval, workspace=workspace
        )
        if verdict.detail:
            preview = f"{preview}\n\n{verdict.detail}"
        dry_run = bool(goal["dry_run"]) or bool(self.store.setting("dry_run", False))
        return Prepared(preview, verdict.decision, verdict.reason, dry_run)

    def propose(
        self,
        tx: Tx,
        step: Row,
        tool: Tool,
        raw_args: dict[str, Any],
        prepared: Prepared,
        *,
        tool_call_id: str | None = None,
        decides_step: bool = True,
    ) -> tuple[int, str]:
        """Record the action as :func:`runs.propose_action` decides it, and start it in the same
        transaction when it may run; ``(action_id, what next)``."""
        action_id, move = runs.propose_action(
            tx,
            step,
            tool=tool.name,
            args=raw_args,
            side_effects=tool.side_effects,
            decision=prepared.decision,
            reason=prepared.reason,
            preview=prepared.preview,
            dry_run=prepared.dry_run,
            tool_call_id=tool_call_id,
            decides_step=decides_step,
        )
        if move == "run":
            self.mark_running(tx, step, tool, action_id, prepared.preview)
        return action_id, move

    async def _start_action(
        self, step: Row, goal: Row, tool: Tool, workspace: Path
    ) -> tuple[int, ToolArgs] | None:
        """Record (or resume) the step's action and mark it running; ``None`` if it must not run.

        A new action has its arguments rendered, the policy applied and, when allowed, is started
        in the same transaction. An action approved in the queue is resumed as it was approved.
        """
        approved = None
        if step["wait_reason"] == "approved":
            found, resumed = self._resume_approved(step, tool, workspace)
            if found:
                return resumed
        elif step["wait_reason"] is not None or step["attempt"] > 1:  # may resume an approval
            approved = store_actions.approved_for_step(self.store, step["id"])
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
        prepared = None
        try:
            args = tool.parse(raw_args)
            if approved is None:
                prepared = await self.prepare(
                    tool, args, raw_args, workspace, goal, step_approval=step["approval"]
                )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            self._fail_before_action(step, f"{tool.name} args.{where}: {err['msg']}")
            return None
        except ToolError as exc:
            self._fail_before_action(step, str(exc))
            return None
        with self.store.write() as tx:
            runs.ensure_still_running(tx, step["id"], self.owner)
            if (
                approved is None
                and self.settings.limits.tools.get(tool.name)
                and (hit := limits.tool_limit(tx, tool.name, self.settings))
            ):
                store_limits.hold_step(tx, step, "rate limit", *hit)
                return None
            if approved is not None:
                action_id = approved["id"]
                self.mark_running(tx, step, tool, action_id, preview)
            else:
                assert prepared is not None
                action_id, move = self.propose(tx, step, tool, raw_args, prepared)
                if move != "run":
                    return None
        return action_id, args

    def _resume_approved(
        self, step: Row, tool: Tool, workspace: Path
    ) -> tuple[bool, tuple[int, ToolArgs] | None]:
        """Start the action approved in the queue for ``step``, in one transaction that also finds
        it and checks that the step is still this process's: the way from an approval to its
        start in as few round trips as it takes. Whether there was such an action, and what
        :meth:`_start_action` returns."""
        workspace.mkdir(parents=True, exist_ok=True)
        failed = None
        with self.store.write() as tx:
            approved = runs.approved_while_running(tx, step["id"], self.owner)
            if approved is None:
                return False, None
            try:
                args = tool.parse(json.loads(approved["args"]))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                failed = f"{tool.name} args.{where}: {err['msg']}"
            except ToolError as exc:
                failed = str(exc)
            else:
                self.mark_running(tx, step, tool, approved["id"], approved["preview"] or "")
        if failed is not None:
            self._fail_before_action(step, failed)
            return True, None
        return True, (approved["id"], args)

    def _document_saver(
        self, step: Row, action_id: int
    ) -> Callable[[str, str, str], tuple[int, int]]:
        def save(name: str, content: str, mime: str) -> tuple[int, int]:
            with self.store.write() as tx:
                version = store_goals.document_version(tx, step["goal_id"], name) + 1
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


def _is_transient(exc: ToolError) -> bool:
    return isinstance(exc, TransientToolError)
