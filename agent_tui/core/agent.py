"""Steps that a model carries out: ``agent`` steps (a tool-calling loop) and ``plan`` steps.

Both resume from the stored transcript: after an approval, a restart or a crash the loop goes on
from the last stored message and never repeats a finished tool call. An agent step ends only with
an explicit ``finish_step`` or ``fail_step`` call, never with assumed success.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from pydantic import ValidationError

from agent_tui.core import budget, context, limits, llm, model_calls, planner, transcript
from agent_tui.core.events import OutputChunk
from agent_tui.core.secrets import StreamRedactor
from agent_tui.core.states import ActionStatus, StepStatus
from agent_tui.core.store import Row, StaleState, Store, Tx, approvals, lifecycle, plans, runs
from agent_tui.core.store import actions as store_actions
from agent_tui.core.store import goals as store_goals
from agent_tui.core.store import limits as store_limits
from agent_tui.core.templates import TemplateError, render
from agent_tui.core.tools.base import Tool, ToolResult

A = ActionStatus

if TYPE_CHECKING:
    from pathlib import Path

    from agent_tui.config import Settings
    from agent_tui.core.actions import Actions, RunningStep
    from agent_tui.core.model_state import ModelState
    from agent_tui.core.store import Store


class Host(Protocol):
    """What an agent or plan step needs of the executor that runs it, and nothing more."""

    store: Store
    settings: Settings
    owner: str
    models: ModelState
    """The model, its window and the probe of an unreachable server."""
    actions: Actions
    """The action pipeline every tool call goes through."""

    def report_output(self, chunk: OutputChunk) -> None: ...

    def workspace(self, goal: Row) -> Path: ...

    async def tools(self) -> dict[str, Tool]: ...


FINISH = {
    "name": "finish_step",
    "description": "Call when the step is done: say what was done and where the results are.",
    "parameters": {
        "type": "object",
        "properties": {"summary": {"type": "string"}},
        "required": ["summary"],
    },
}
FAIL = {
    "name": "fail_step",
    "description": "Call when the step cannot be done, with the reason.",
    "parameters": {
        "type": "object",
        "properties": {"reason": {"type": "string"}},
        "required": ["reason"],
    },
}
NUDGE = (
    "You did not call a tool. Carry on with the tools; when the step is done call "
    "finish_step(summary), or fail_step(reason) if it cannot be done."
)
MAX_TOOL_TEXT = 16_000


class _Wait(Exception):
    """The step waits (approval, budget, model error): its slot is free, it resumes later."""


class _Done(Exception):
    """The step finished (completed or failed) and was recorded."""


class _Fitter:
    """Keeps one call's prompt within the model's window, tighter after each overflow."""

    def __init__(self, count: context.Counter, budget: int | None, learn: Any = None) -> None:
        self.count = count
        self.budget = budget
        self.learn = learn
        self.note: str | None = None
        self._incomplete = 0

    def fit(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.budget is None:
            self.note = None
            return context.clean(messages)
        sent, self.note = context.fit(messages, self.budget, self.count)
        return sent

    def shrink(self, sent: list[dict[str, Any]]) -> bool:
        """Aim at half the prompt just refused; False when it is too small to shrink."""
        size = self.count(sent)
        if size < 256:
            return False
        self.budget = size // 2
        if self.learn is not None:
            self.learn(size)  # later calls compact before sending, not after a refusal
        return True

    def incomplete(self, sent: list[dict[str, Any]]) -> None:
        """A second empty or cut reply in a row on a long prompt: a full window answers so."""
        self._incomplete += 1
        if self._incomplete >= 2 and self.count(sent) >= 1024:
            self.shrink(sent)


class ModelStep:
    """What agent and plan steps share: the model, usage, budgets and provider errors."""

    def __init__(self, executor: Host, running: RunningStep) -> None:
        self.ex = executor
        self.store = executor.store
        self.settings = executor.settings
        self.running = running
        self.step = running.step
        goal = running.goal or store_goals.goal(self.store, self.step["goal_id"])
        assert goal is not None
        self.goal = goal
        self._redactor = StreamRedactor(self.store.redactor)

    def stream(self, text: str) -> None:
        """Model text as it arrives, to the sinks, redacted like everything stored (a secret
        split across chunks is held back until :meth:`end_stream`)."""
        self._emit(self._redactor.feed(text))

    def end_stream(self) -> None:
        """The end of one reply: what the redactor held back goes out."""
        self._emit(self._redactor.flush())

    def _emit(self, text: str) -> None:
        if text:
            self.ex.report_output(
                OutputChunk(self.step["goal_id"], self.step["id"], 0, "model", text)
            )

    def check_budget(self) -> None:
        hit = budget.check(self.store, self.goal, self.settings, self.store.clock())
        if hit is None:
            return
        with self.store.write() as tx:
            runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
            budget.hold(tx, self.goal, self.step, hit)
        raise _Wait

    async def call_model(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> llm.Turn:
        """One complete reply, retried through outages; a goal that cannot reach its model
        waits (``_Wait``), and a permanent error waits with its fix."""
        self.check_budget()
        if self.settings.limits.model_calls_per_minute:
            self._hold_if_limited(lambda tx: limits.model_limit(tx, self.settings))
        choice = self.ex.models.choice
        conf = self.settings.llm
        window = self.ex.models.context_window()
        counters: list[context.Counter] = []

        def count(sent: list[dict[str, Any]]) -> int:
            if not counters:  # made on first use: it needs litellm
                counters.append(context.counter_for(choice.model, tools))
            return counters[0](sent)

        fitter = _Fitter(
            count,
            window - context.reserve_for_reply(window) if window else None,
            self.ex.models.learn_window,
        )

        async def attempt(number: int) -> llm.Turn:
            for _ in range(3):  # an overflow is compacted harder and sent again at once
                sent = fitter.fit(messages)
                if fitter.note:
                    self._note(f"context compacted: {fitter.note}")
                try:
                    return await llm.complete(
                        choice, sent, tools=tools, on_text=self.stream, timeout=conf.timeout
                    )
                except llm.IncompleteReply as exc:
                    self.end_stream()
                    if exc.partial:
                        self._emit("\n[agent-tui: that reply was cut off; it is discarded]\n")
                    fitter.incomplete(sent)
                    raise
                except llm.LLMError as exc:
                    if exc.kind != "overflow" or not fitter.shrink(sent):
                        raise
                finally:
                    self.end_stream()
            raise llm.LLMError(
                "the conversation still overflows the model's window after compaction",
                transient=False,
                kind="overflow",
                fix="set `[llm] context_window` to the server's real window",
            )

        policy = model_calls.RetryPolicy(
            conf.retry_window, self.settings.retry.base_delay, self.settings.retry.factor
        )
        try:
            return await model_calls.call_with_retries(
                self.ex.models.endpoints.get(choice),
                attempt,
                policy,
                on_retry=self._retrying,
                sleep=self._sleep,
            )
        except model_calls.Unreachable as exc:
            self._model_unreachable(exc)
            raise _Wait from exc
        except llm.LLMError as exc:
            self._model_failed(exc)
            raise _Wait from exc

    def _note(self, message: str) -> None:
        with self.store.write() as tx:
            tx.event("llm.note", message, goal_id=self.step["goal_id"], step_id=self.step["id"])

    def _retrying(self, error: llm.LLMError, delay: float, number: int) -> None:
        with self.store.write() as tx:
            runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
            tx.event(
                "llm.retry",
                f"model call {number} failed ({error}); retrying in "
                + (f"{delay:.1f} s" if delay >= 1 else f"{delay:.2g} s"),
                goal_id=self.step["goal_id"],
                step_id=self.step["id"],
                fault=error.kind,
            )

    async def _sleep(self, delay: float) -> None:
        """Wait before the next attempt; a step cancelled meanwhile stops here."""
        try:
            await asyncio.wait_for(self.running.cancelled.wait(), delay)
        except TimeoutError:
            return
        raise StaleState("cancelled while waiting to call the model again")

    def _model_unreachable(self, exc: model_calls.Unreachable) -> None:
        """The retry window closed: give the step back and make the goal wait, saying where
        and why; the executor checks the server on a timer and resumes the goal."""
        error = exc.error
        reason = "rate limit" if error.kind == "rate limit" else "model unreachable"
        server = self.ex.models.choice.api_base or self.ex.models.choice.model or "the provider"
        message = f"{reason}: {server} — {error} (retried for {exc.waited:.0f} s)" + (
            f"; fix: {error.fix}" if error.fix else ""
        )
        with self.store.write() as tx:
            if runs.still_ours(tx, self.step) is None:
                return
            if exc.retry_after is not None:
                resume_at, until = tx.now + exc.retry_after, "resumes at"
            else:
                resume_at, until = tx.now + self.ex.models.probe_delay(), "next check at"
            store_limits.hold_step(tx, self.step, reason, message, resume_at, until=until)

    def _hold_if_limited(self, check: Any) -> None:
        """Hold the step (and its goal, until the window opens) when ``check(tx)`` finds a limit."""
        with self.store.write() as tx:
            runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
            hit = check(tx)
            if hit:
                store_limits.hold_step(tx, self.step, "rate limit", *hit)
        if hit:
            raise _Wait

    def record_turn(self, turn: llm.Turn, *extra: dict[str, Any]) -> None:
        """Store the reply (and follow-up messages) with its usage, in one transaction."""
        with self.store.write() as tx:
            runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
            transcript.append(tx, self.step["id"], turn.message())
            for message in extra:
                transcript.append(tx, self.step["id"], message)
            tx.insert(
                "usage",
                {
                    "ts": tx.now,
                    "goal_id": self.step["goal_id"],
                    "step_id": self.step["id"],
                    "model": self.ex.models.choice.model,
                    "prompt_tokens": turn.prompt_tokens,
                    "completion_tokens": turn.completion_tokens,
                    "cost": turn.cost,
                    "estimated": int(turn.estimated),
                },
            )
            cost = "cost unknown" if turn.cost is None else f"${turn.cost:.4f}"
            tokens = (turn.prompt_tokens or 0) + (turn.completion_tokens or 0)
            about = "about " if turn.estimated else ""
            tx.event(
                "llm.turn",
                f"model turn: {about}{tokens} tokens{' (estimated)' if about else ''}, {cost}",
                goal_id=self.step["goal_id"],
                step_id=self.step["id"],
                tool_calls=[c.name for c in turn.tool_calls],
            )

    def _model_failed(self, exc: llm.LLMError) -> None:
        step = self.step
        with self.store.write() as tx:
            current = runs.still_ours(tx, step)
            if current is None:
                return
            if exc.transient:
                retry = self.settings.retry
                delay = runs.backoff_delay(
                    current["attempt"], retry.base_delay, retry.factor, retry.max_delay
                )
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, retry.max_delay))
                runs.retry_or_fail(
                    tx,
                    step,
                    f"model: {exc}",
                    transient=True,
                    retry_delay=delay,
                    current=current,
                    fail=self.fail_for_good,
                )
                return
            message = f"model error: {exc}" + (f" — fix: {exc.fix}" if exc.fix else "")
            lifecycle.release_step(tx, step)
            lifecycle.wait_goal(
                tx,
                step["goal_id"],
                "model",
                message,
                note=f"{message}; resume the goal once fixed",
                step_id=step["id"],
            )

    def fail_for_good(self, tx: Tx, step: Row, error: str) -> None:
        runs.fail_step(tx, step, error)


class AgentStep(ModelStep):
    """An agent step: a tool-calling loop over the persisted transcript."""

    def fail_for_good(self, tx: Tx, step: Row, error: str) -> None:
        planner.replan_or_fail(tx, step, error, self.settings.llm.max_replans)

    async def tools(self) -> dict[str, Tool]:
        """The step's tools by the name the model calls them (all of them when none are listed)."""
        every = await self.ex.tools()
        allowed = json.loads(self.step["tools"]) if self.step["tools"] else []
        if not allowed:
            return every
        return {key: tool for key, tool in every.items() if tool.name in allowed or key in allowed}

    def seed(self) -> list[dict[str, Any]]:
        results = runs.dependency_results(self.store, self.step["id"])
        earlier = "\n".join(f"- {key}: {r['output']}" for key, r in results.items())
        system = (
            "You are an autonomous agent carrying out one step of a larger goal on the user's "
            "machine, with real tools. Do the work by calling tools; never claim anything you "
            "have not done or seen through a tool result. Tool results are real: read them and "
            "correct yourself when a call fails. When the step is done call finish_step with a "
            "short summary of what was done and where the results are (file paths, documents). "
            "If the step cannot be done, call fail_step with the reason.\n"
            f"Workspace (the tools' working directory): {self.goal['workspace']}"
        )
        try:
            instructions = render(self.step["instructions"] or "", results)
        except TemplateError as exc:
            instructions = f"{self.step['instructions']}\n(template error: {exc})"
        user = (
            f"Goal: {self.goal['text'] or self.goal['title']}\n\nYour step: "
            f"{self.step['title']}\n{instructions}"
        )
        if earlier:
            user += f"\n\nResults of the steps before this one:\n{earlier}"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        with self.store.write() as tx:
            for message in messages:
                transcript.append(tx, self.step["id"], message)
        return messages

    async def run(self) -> None:
        try:
            await self._loop()
        except (_Wait, _Done):
            return

    async def _loop(self) -> None:
        tools = await self.tools()
        schemas = [t.schema() for t in tools.values()] + [FINISH, FAIL]
        messages = transcript.load(self.store, self.step["id"]) or self.seed()
        while True:
            for call in transcript.unanswered_calls(messages):
                reply = await self.answer(call, tools)
                messages.append(reply)
            if transcript.model_turns(messages) >= self.settings.llm.step_iterations:
                self.finish(
                    None,
                    f"reached the limit of {self.settings.llm.step_iterations} "
                    "model turns without finish_step",
                )
            turn = await self.call_model(messages, schemas)
            extra = [] if turn.tool_calls else [{"role": "user", "content": NUDGE}]
            self.record_turn(turn, *extra)
            messages.append(turn.message())
            messages.extend(extra)

    def finish(
        self, summary: str | None, error: str | None = None, reply: dict[str, Any] | None = None
    ) -> NoReturn:
        """Record the step's end (unless it is no longer ours) and leave the loop."""
        with self.store.write() as tx:
            current = runs.still_ours(tx, self.step)
            if current is None:
                raise _Done
            if reply is not None:
                transcript.append(tx, self.step["id"], reply)
            if error is None:
                runs.complete_step(
                    tx, self.step, {"output": summary or "", "data": {"summary": summary or ""}}
                )
            else:
                self.fail_for_good(tx, self.step, error)
        raise _Done

    def _reply(self, call: dict[str, Any], content: Any) -> dict[str, Any]:
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        text = self.store.redactor.redact(text)  # secrets never reach the model
        return {"role": "tool", "tool_call_id": call["id"], "content": text}

    def _store_reply(self, reply: dict[str, Any]) -> dict[str, Any]:
        with self.store.write() as tx:
            runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
            transcript.append(tx, self.step["id"], reply)
        return reply

    async def answer(self, call: dict[str, Any], tools: dict[str, Tool]) -> dict[str, Any]:
        """Answer one tool call: run it (through the policy) or say why not; store the reply."""
        name = call.get("function", {}).get("name", "")
        raw = call.get("function", {}).get("arguments", "")
        try:
            args = llm.parse_arguments(raw)
        except ValueError as exc:
            return self._store_reply(self._reply(call, {"error": str(exc)}))
        if name == "finish_step":
            summary = str(args.get("summary", "")).strip() or "(no summary given)"
            self.finish(summary, reply=self._reply(call, {"ok": True}))
        if name == "fail_step":
            reason = str(args.get("reason", "")).strip() or "(no reason given)"
            self.finish(None, f"the agent gave up: {reason}", reply=self._reply(call, {"ok": True}))
        tool = tools.get(name)
        if tool is None:
            known = ", ".join([*tools, "finish_step", "fail_step"])
            return self._store_reply(
                self._reply(call, {"error": f"unknown tool '{name[:80]}'; available: {known}"})
            )
        return await self._run_call(call, tool, args)

    async def _run_call(
        self, call: dict[str, Any], tool: Tool, args: dict[str, Any]
    ) -> dict[str, Any]:
        """Run one tool call through the policy; store and return the reply for the model."""
        action = store_actions.for_tool_call(self.store, self.step["id"], call["id"])
        if action is not None and not _rerun(action):
            if action["status"] in ("awaiting_approval", "unknown"):
                raise _Wait
            if action["status"] != "approved":
                return self._store_reply(self._reply(call, _recorded(self.store, action)))
        try:
            parsed = tool.parse(args)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return self._store_reply(
                self._reply(call, {"error": f"invalid arguments: {where}: {err['msg']}"})
            )
        workspace = self.ex.workspace(self.goal)
        started = False
        if action is None or _rerun(action):
            try:
                prepared = await self.ex.actions.prepare(tool, parsed, args, workspace, self.goal)
            except Exception as exc:
                return self._store_reply(self._reply(call, {"error": str(exc)}))
            if self.settings.limits.tools.get(tool.name):
                self._hold_if_limited(lambda tx: limits.tool_limit(tx, tool.name, self.settings))
            with self.store.write() as tx:
                runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
                action_id, move = self.ex.actions.propose(
                    tx, self.step, tool, args, prepared, tool_call_id=call["id"], decides_step=False
                )
                started = move == "run"  # started in the same transaction
            if move == "ask":
                raise _Wait
            if move != "run":
                row = store_actions.action(self.store, action_id)
                assert row is not None
                return self._store_reply(self._reply(call, _recorded(self.store, row)))
        else:
            action_id = action["id"]
        replies: list[dict[str, Any]] = []

        def store_reply(tx: Tx, result: ToolResult) -> None:
            reply = self._reply(
                call, _result_payload(result.ok, result.output, result.data, result.error)
            )
            transcript.append(tx, self.step["id"], reply)
            replies.append(reply)

        result = await self.ex.actions.execute(
            self.running, tool, parsed, action_id, workspace, started=started, after=store_reply
        )
        if result is None:
            raise _Done
        return replies[0]


def _rerun(action: Row) -> bool:
    """An action interrupted by a dead process, to be made again."""
    return action["status"] == A.FAILED and str(action["error"] or "").startswith("interrupted")


def _result_payload(
    ok: bool, output: str, data: dict[str, Any], error: str | None
) -> dict[str, Any]:
    text = (
        output
        if len(output) <= MAX_TOOL_TEXT
        else (f"[... {len(output) - MAX_TOOL_TEXT} characters cut ...]\n" + output[-MAX_TOOL_TEXT:])
    )
    payload: dict[str, Any] = {"ok": ok, "output": text}
    for key, value in data.items():
        if key not in ("stdout", "diff") and not (isinstance(value, str) and len(value) > 2000):
            payload[key] = value
    if error:
        payload["error"] = error
    return payload


def _recorded(store: Store, action: Row) -> dict[str, Any]:
    """What the model is told about an action that already ended (never run twice)."""
    status = action["status"]
    if status == A.REJECTED:
        row = approvals.latest_of_action(store, action["id"])
        reason = row["reason"] if row and row["reason"] else "no reason given"
        return {
            "ok": False,
            "error": f"the user rejected this action: {reason}. Do not try "
            "the same thing again; find another way or call fail_step.",
        }
    if status == A.DENIED:
        return {
            "ok": False,
            "error": f"denied by policy ({action['decision_reason']}); it was "
            "not run. Do not retry it.",
        }
    if status == A.DRY_RUN:
        return {
            "ok": True,
            "dry_run": True,
            "output": "DRY RUN: this action was NOT executed; "
            f"it would have run: {action['preview']}",
        }
    result = json.loads(action["result"]) if action["result"] else {}
    return _result_payload(
        status == A.SUCCEEDED, result.get("output", ""), result.get("data") or {}, action["error"]
    )


class PlanStep(ModelStep):
    """A plan step: ask the model for a plan, repair it up to twice, store it as steps."""

    async def known_tools(self) -> dict[str, str]:
        return {tool.name: tool.description for tool in (await self.ex.tools()).values()}

    async def run(self) -> None:
        try:
            await self._plan()
        except (_Wait, _Done):
            return

    def _review(self) -> Row | None:
        return approvals.latest_of_step(self.store, self.step["id"], "plan")

    async def _plan(self) -> None:
        tools = await self.known_tools()
        max_steps = self.settings.llm.max_plan_steps
        review = self._review()
        if review is not None and review["status"] == "approved":
            row = plans.plan(self.store, self.goal["id"], self.step["plan_version"])
            assert row is not None
            plan = planner.Plan.model_validate({"steps": json.loads(row["steps"])})
            self._materialize(plan)
        messages = transcript.load(self.store, self.step["id"])
        if not messages:
            with self.store.write() as tx:
                messages = [
                    {"role": "system", "content": planner.system_prompt(tools, max_steps)},
                    {"role": "user", "content": planner.user_prompt(tx, self.goal, self.step)},
                ]
                for message in messages:
                    transcript.append(tx, self.step["id"], message)
        if (
            review is not None
            and review["status"] == "rejected"
            and messages[-1]["role"] != ("user")
        ):
            feedback = {
                "role": "user",
                "content": f"The user rejected this plan: "
                f"{review['reason']}. Propose a better plan, as JSON only.",
            }
            with self.store.write() as tx:
                transcript.append(tx, self.step["id"], feedback)
            messages.append(feedback)
        start = transcript.since_retry(messages)
        if start:  # a retried plan starts again from the task, not from the failed attempt
            messages = messages[:2] + messages[start:]
        repairs = sum(
            1
            for m in messages
            if m["role"] == "user" and str(m.get("content")).startswith(planner.REPAIR_PREFIX)
        )
        while True:
            turn = await self.call_model(messages, None)
            try:
                plan = planner.validate_plan(
                    planner.extract_json(turn.content), max_steps=max_steps, tools=set(tools)
                )
            except planner.PlanError as exc:
                if repairs >= planner.REPAIRS:
                    self.record_turn(turn)
                    with self.store.write() as tx:
                        if runs.still_ours(tx, self.step) is not None:
                            runs.fail_step(
                                tx,
                                self.step,
                                f"the model's plan is invalid after "
                                f"{planner.REPAIRS} repairs: {exc}",
                            )
                    return
                repairs += 1
                repair = {
                    "role": "user",
                    "content": f"{planner.REPAIR_PREFIX} {exc}. Reply "
                    "with the corrected plan as JSON only.",
                }
                self.record_turn(turn, repair)
                messages += [turn.message(), repair]
                continue
            self.record_turn(turn)
            if self.goal["review_plan"] or self.settings.llm.review_plan:
                self._ask_review(plan)
            self._materialize(plan)

    def _materialize(self, plan: planner.Plan) -> NoReturn:
        with self.store.write() as tx:
            if runs.still_ours(tx, self.step) is not None:
                planner.materialize(
                    tx, self.goal, self.step, plan, self.settings.retry.max_attempts
                )
        raise _Done

    def _ask_review(self, plan: planner.Plan) -> NoReturn:
        steps = [s.model_dump() for s in plan.steps]
        detail = "\n".join(
            f"{i}. {s.title} [{s.id}]"
            + (f" after {', '.join(s.depends_on)}" if s.depends_on else "")
            + f"\n   {s.instructions}"
            + (f"\n   tools: {', '.join(s.tools)}" if s.tools else "")
            for i, s in enumerate(plan.steps, start=1)
        )
        with self.store.write() as tx:
            runs.ensure_still_running(tx, self.step["id"], self.ex.owner)
            plans.save(tx, self.goal["id"], self.step["plan_version"], "proposed", steps)
            approval_id = approvals.request(
                tx,
                "plan",
                goal_id=self.goal["id"],
                step_id=self.step["id"],
                title=f"plan of {len(steps)} steps for review",
                detail=detail,
            )
            lifecycle.step_off_lease(
                tx,
                self.step,
                StepStatus.RUNNING,
                StepStatus.WAITING_APPROVAL,
                wait_reason="approval",
            )
            tx.event(
                "approval.requested",
                f"approval {approval_id} needed: review the plan",
                goal_id=self.goal["id"],
                step_id=self.step["id"],
                approval_id=approval_id,
            )
            from agent_tui.core.store.lifecycle import settle_goal

            settle_goal(tx, self.goal["id"])
        raise _Wait
