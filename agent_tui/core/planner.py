"""Planning free text into a versioned graph of agent steps, and replanning after a failure.

The plan is JSON validated with pydantic (ids, dependencies, no cycles, at most N steps, known
tools). An invalid plan gets up to two repair turns carrying the validation error; then the goal
fails with that error. Planning runs as a step of kind ``plan`` so it is claimed, leased, retried
and recovered like any other step.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent_tui.core.recipes import STEP_ID
from agent_tui.core.states import GoalStatus
from agent_tui.core.store import Row, Tx, plans
from agent_tui.core.store import goals as store_goals
from agent_tui.core.store import steps as store_steps

G = GoalStatus

PLAN_KEY = "_plan"
REPAIRS = 2
REPAIR_PREFIX = "That plan is invalid:"
"""How a repair turn begins; the repairs of a plan are counted from its conversation."""


class PlanError(Exception):
    """A plan that cannot be used; the message goes back to the model (and to the user)."""


class PlannedStep(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError("must start with a letter and use only letters, digits, - and _")
        return value


class Plan(BaseModel):
    model_config = ConfigDict(extra="ignore")
    steps: list[PlannedStep] = Field(min_length=1)


def extract_json(text: str) -> Any:
    """The JSON object in a model reply (fenced or bare); raises :class:`PlanError`."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise PlanError("the reply holds no JSON object")
    try:
        return json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise PlanError(f"the JSON does not parse: {exc.msg} (line {exc.lineno})") from None


def validate_plan(data: Any, *, max_steps: int, tools: set[str]) -> Plan:
    """Check a decoded plan completely; raise :class:`PlanError` naming the first problem."""
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "plan"
        raise PlanError(f"{where}: {err['msg']}") from None
    if len(plan.steps) > max_steps:
        raise PlanError(f"the plan has {len(plan.steps)} steps; at most {max_steps} are allowed")
    ids: set[str] = set()
    for step in plan.steps:
        if step.id in ids:
            raise PlanError(f"step '{step.id}': duplicate id")
        ids.add(step.id)
    for step in plan.steps:
        for dep in step.depends_on:
            if dep not in ids:
                raise PlanError(f"step '{step.id}': depends on unknown step '{dep}'")
        unknown = [t for t in step.tools if t not in tools]
        if unknown:
            raise PlanError(
                f"step '{step.id}': unknown tool '{unknown[0]}' "
                f"(available: {', '.join(sorted(tools))})"
            )
    _check_cycles(plan)
    return plan


def _check_cycles(plan: Plan) -> None:
    deps = {s.id: s.depends_on for s in plan.steps}
    state: dict[str, int] = {}

    def visit(sid: str, trail: list[str]) -> None:
        state[sid] = 1
        for dep in deps[sid]:
            if state.get(dep) == 1:
                cycle = [*trail[trail.index(dep) :], dep] if dep in trail else [sid, dep]
                raise PlanError(f"dependency cycle {' → '.join(cycle)}")
            if dep not in state:
                visit(dep, [*trail, dep])
        state[sid] = 2

    for sid in deps:
        if sid not in state:
            visit(sid, [sid])


def system_prompt(tools: dict[str, str], max_steps: int) -> str:
    listing = "\n".join(f"- {name}: {desc}" for name, desc in sorted(tools.items()))
    return (
        "You plan work for an autonomous agent that runs on the user's machine with real tools.\n"
        f"Break the goal into at most {max_steps} concrete steps. Each step is carried out by "
        "an agent that can call the tools you list for it, in a workspace directory.\n"
        "Reply with JSON only, in this shape:\n"
        '{"steps": [{"id": "short-id", "title": "...", "instructions": "what to do and what '
        'to produce", "depends_on": ["id of an earlier step"], "tools": ["tool", ...]}]}\n'
        "Ids start with a letter and use letters, digits, - and _. Steps without a dependency "
        "between them run in parallel. Prefer few, substantial steps.\n"
        f"Tools:\n{listing}"
    )


def user_prompt(tx: Tx, goal: Row, plan_step: Row) -> str:
    parts = [f"Goal: {goal['text'] or goal['title']}", f"Workspace: {goal['workspace']}"]
    context = json.loads(plan_step["instructions"]) if plan_step["instructions"] else {}
    if context.get("replan"):
        done = store_steps.completed_agent_steps(tx, goal["id"])
        if done:
            parts.append("Already done (do not repeat):")
            for row in done:
                result = json.loads(row["result"]) if row["result"] else {}
                parts.append(f"- {row['key']} ({row['title']}): {result.get('output', '')}")
        failed = context["replan"]
        parts.append(
            f"Step '{failed['step']}' failed for good: {failed['error']}\n"
            "Plan the remaining work as new steps, taking the failure into account."
        )
    return "\n\n".join(parts)


def insert_plan_step(
    tx: Tx, goal_id: int, version: int, context: dict[str, Any] | None = None, max_attempts: int = 3
) -> int:
    """The step that plans ``version`` of a goal."""
    return tx.insert(
        "steps",
        {
            "goal_id": goal_id,
            "plan_version": version,
            "key": PLAN_KEY,
            "position": 0,
            "title": "Plan" if version == 1 else f"Replan (version {version})",
            "kind": "plan",
            "instructions": json.dumps(context or {}),
            "status": "ready",
            "max_attempts": max_attempts,
            "created_at": tx.now,
            "updated_at": tx.now,
        },
    )


def materialize(tx: Tx, goal: Row, plan_step: Row, plan: Plan, max_attempts: int) -> None:
    """Store the plan as this version's agent steps (roots ready) and finish the plan step."""
    version = plan_step["plan_version"]
    steps = [s.model_dump() for s in plan.steps]
    plans.save(tx, goal["id"], version, "replan" if version > 1 else "plan", steps)
    ids: dict[str, int] = {}
    for position, spec in enumerate(plan.steps, start=1):
        ids[spec.id] = tx.insert(
            "steps",
            {
                "goal_id": goal["id"],
                "plan_version": version,
                "key": spec.id,
                "position": position,
                "title": spec.title,
                "kind": "agent",
                "instructions": spec.instructions,
                "tools": json.dumps(spec.tools),
                "status": "pending" if spec.depends_on else "ready",
                "max_attempts": max_attempts,
                "created_at": tx.now,
                "updated_at": tx.now,
            },
        )
    for spec in plan.steps:
        for dep in spec.depends_on:
            store_steps.add_dependency(tx, ids[spec.id], ids[dep])
    summary = "\n".join(
        f"{i}. {s.title}" + (f" (after {', '.join(s.depends_on)})" if s.depends_on else "")
        for i, s in enumerate(plan.steps, start=1)
    )
    tx.event(
        "goal.planned",
        f"plan version {version}: {len(steps)} steps",
        goal_id=goal["id"],
        step_id=plan_step["id"],
        version=version,
    )
    current = store_goals.goal(tx, goal["id"])
    if current and current["status"] in (G.PLANNING, G.QUEUED, G.WAITING):
        tx.set_status(
            "goal", goal["id"], current["status"], "running", wait_reason=None, status_message=None
        )
    from agent_tui.core.store.runs import complete_step

    complete_step(tx, plan_step, {"output": summary, "data": {"steps": len(steps)}})


def replan_or_fail(tx: Tx, step: Row, error: str, max_replans: int) -> None:
    """An agent step failed for good: plan the rest again (a new version) or fail the goal."""
    from agent_tui.core.store.runs import fail_step

    goal = store_goals.goal(tx, step["goal_id"])
    assert goal is not None
    if goal["source"] != "text" or goal["replans"] >= max_replans:
        fail_step(tx, step, error)
        return
    version = goal["plan_version"] + 1
    store_goals.start_plan_version(tx, goal["id"], version)
    for old in store_steps.in_status(
        tx, goal["id"], ("pending", "ready", "retry_wait"), plan_version=goal["plan_version"]
    ):
        tx.set_status(
            "step",
            old["id"],
            old["status"],
            "cancelled",
            finished_at=tx.now,
            error=f"superseded by plan version {version}",
        )
    insert_plan_step(tx, goal["id"], version, {"replan": {"step": step["key"], "error": error}})
    fail_step(tx, step, error)  # the goal settles on the new version, whose plan step is ready
    tx.event(
        "goal.replanning",
        f"replanning (version {version}) after step '{step['key']}' failed",
        goal_id=goal["id"],
        version=version,
    )
