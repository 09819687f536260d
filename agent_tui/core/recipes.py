"""Recipes: goals with explicit steps, written in TOML, validated completely before anything is stored.

Every problem is a :class:`RecipeError` whose one-line message names the file, the step and the fix.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent_tui.core import cron
from agent_tui.core.templates import TemplateError, references
from agent_tui.core.tools.registry import get_tool

STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_STEPS = 500


class RecipeError(Exception):
    """A recipe that cannot be used."""

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


class Budget(BaseModel):
    """Limits for one goal (enforced by the agent work; stored now)."""

    model_config = ConfigDict(extra="forbid")
    max_usd: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    max_seconds: float | None = Field(None, gt=0)
    max_iterations: int | None = Field(None, gt=0)


class StepSpec(BaseModel):
    """One step of a recipe."""

    model_config = ConfigDict(extra="forbid")
    id: str
    title: str | None = None
    kind: Literal["tool", "agent"] = "tool"
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    instructions: str | None = None
    tools: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    approval: Literal["ask"] | None = None
    max_attempts: int | None = Field(None, ge=1, le=100)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError("must start with a letter and use only letters, digits, - and _")
        return value


class Recipe(BaseModel):
    """A validated recipe."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200, pattern=r"^[^\n\r]*$")
    description: str | None = None
    priority: int = Field(5, ge=1, le=10)
    schedule: str | None = None
    workspace: str | None = None
    dry_run: bool = False
    max_parallel: int | None = Field(None, ge=1, le=256)
    runs_on: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """A worker label (``[executor] labels``, or ``host:NAME``): only workers with it run this."""
    budget: Budget | None = None
    approval_timeout: str | None = None
    """``"wait"`` or ``"deny after 30m"`` (``"30m"``): what happens to approvals nobody decides."""
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)


def _pydantic_message(exc: ValidationError, data: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    prefix = ""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") or []
        sid = (
            steps[loc[1]].get("id")
            if loc[1] < len(steps) and isinstance(steps[loc[1]], dict)
            else None
        )
        prefix = f"step '{sid}': " if sid else f"step #{loc[1] + 1}: "
        loc = loc[2:]
    key = ".".join(str(p) for p in loc) or "recipe"
    if prefix and not loc and err["type"] in ("model_type", "dict_type"):
        return f"{prefix}must be a table with id, tool and args (write it under [[steps]])"
    if err["type"] == "extra_forbidden":
        return f"{prefix}unknown key '{key}'"
    if err["type"] == "missing":
        return f"{prefix}missing required key '{key}'"
    return f"{prefix}{key}: {err['msg'].removeprefix('Value error, ')}"


def validate_cron(expr: str) -> None:
    """Raise ``ValueError`` unless ``expr`` is a five-field cron expression that fires."""
    cron.validate(expr)


def _check_graph(recipe: Recipe) -> None:
    ids: dict[str, StepSpec] = {}
    for step in recipe.steps:
        if step.id in ids:
            raise RecipeError(f"step '{step.id}': duplicate step id")
        ids[step.id] = step
    for step in recipe.steps:
        for dep in step.depends_on:
            if dep == step.id:
                raise RecipeError(f"step '{step.id}': depends on itself")
            if dep not in ids:
                raise RecipeError(f"step '{step.id}': depends on unknown step '{dep}'")
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(sid: str) -> None:
        state[sid] = 1
        trail.append(sid)
        for dep in ids[sid].depends_on:
            if state.get(dep) == 1:
                cycle = [*trail[trail.index(dep) :], dep]
                raise RecipeError(f"step '{dep}': dependency cycle {' → '.join(cycle)}")
            if dep not in state:
                visit(dep)
        trail.pop()
        state[sid] = 2

    for sid in ids:
        if sid not in state:
            visit(sid)


def ancestors(recipe: Recipe, step_id: str) -> set[str]:
    """Every step ``step_id`` depends on, directly or not."""
    by_id = {s.id: s for s in recipe.steps}
    seen: set[str] = set()
    todo = list(by_id[step_id].depends_on)
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            todo.extend(by_id[sid].depends_on)
    return seen


def _check_templates(recipe: Recipe, step: StepSpec, value: Any) -> None:
    """Every ``{{ steps.ID... }}`` in ``value`` parses and names a step this one depends on."""
    try:
        refs = references(value)
    except TemplateError as exc:
        raise RecipeError(f"step '{step.id}': {exc}") from None
    before = ancestors(recipe, step.id) if refs else set()
    for ref in refs:
        if ref.step not in before:
            raise RecipeError(
                f"step '{step.id}': {{{{ {ref} }}}} refers to step '{ref.step}', "
                "which is not among its dependencies (add it to depends_on)"
            )


def _check_agent_step(recipe: Recipe, step: StepSpec) -> None:
    from agent_tui.core.tools.registry import builtin_tools

    if step.tool is not None or step.args:
        raise RecipeError(
            f"step '{step.id}': an agent step takes instructions and tools, not tool and args"
        )
    if not (step.instructions or "").strip():
        raise RecipeError(f"step '{step.id}': an agent step needs instructions")
    known = builtin_tools()
    for name in step.tools:
        if "." in name and name.split(".", 1)[0] in _mcp_servers():
            continue
        if name not in known:
            raise RecipeError(
                f"step '{step.id}': unknown tool '{name}' in tools "
                f"(known: {', '.join(sorted(known))})"
            )
    _check_templates(recipe, step, step.instructions)


def _mcp_servers() -> set[str]:
    from agent_tui.config import ConfigError, load_settings

    try:
        servers = load_settings().mcp.servers
    except ConfigError:
        return set()
    return {name for name, server in servers.items() if server.enabled}


def _check_mcp_tool(recipe: Recipe, step: StepSpec) -> None:
    """``SERVER.tool``: the server must be configured; the tool is checked when it runs."""
    assert step.tool is not None
    server = step.tool.split(".", 1)[0]
    known = _mcp_servers()
    if server not in known:
        have = ", ".join(sorted(known)) or "none configured"
        raise RecipeError(
            f"step '{step.id}': unknown MCP server '{server}' in tool "
            f"'{step.tool}' (configured: {have}; add [mcp.servers.{server}])"
        )
    _check_templates(recipe, step, step.args)


def _check_steps(recipe: Recipe) -> None:
    for step in recipe.steps:
        if step.kind == "agent":
            _check_agent_step(recipe, step)
            continue
        if step.tool is None:
            raise RecipeError(
                f"step '{step.id}': missing required key 'tool' (or set "
                'kind = "agent" with instructions)'
            )
        if step.instructions is not None or step.tools:
            raise RecipeError(
                f"step '{step.id}': instructions and tools belong to kind = \"agent\" steps"
            )
        if "." in step.tool:
            _check_mcp_tool(recipe, step)
            continue
        tool = get_tool(step.tool)
        if tool is None:
            from agent_tui.core.tools.registry import builtin_tools

            known = ", ".join(sorted(builtin_tools()))
            raise RecipeError(f"step '{step.id}': unknown tool '{step.tool}' (known: {known})")
        _check_templates(recipe, step, step.args)
        try:
            tool.parse(step.args)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            what = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
            if err["type"] == "missing":
                what = "missing argument"
            raise RecipeError(f"step '{step.id}': {step.tool} args.{key}: {what}") from None


def parse_recipe(data: dict[str, Any]) -> Recipe:
    """Validate recipe data (already decoded from TOML or JSON)."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_pydantic_message(exc, data)) from None
    if recipe.approval_timeout is not None:
        from agent_tui.core.limits import parse_approval_timeout

        try:
            parse_approval_timeout(recipe.approval_timeout)
        except ValueError as exc:
            raise RecipeError(f"approval_timeout: {exc}") from None
    if recipe.schedule is not None:
        try:
            validate_cron(recipe.schedule)
        except ValueError as exc:
            raise RecipeError(f"schedule: {exc}") from None
    _check_graph(recipe)
    _check_steps(recipe)
    return recipe


def load_recipe(path: Path) -> Recipe:
    """Read and validate a recipe file; every error message starts with the file name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"recipe {path}: no such file") from None
    except IsADirectoryError:
        raise RecipeError(f"recipe {path}: is a directory, not a recipe file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"recipe {path}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"recipe {path}: TOML syntax error: {exc}") from None
    try:
        return parse_recipe(data)
    except RecipeError as exc:
        raise RecipeError(f"recipe {path}: {exc}") from None
