"""Typed rows at the read boundary: what a goal, step, action, approval or document row holds.

Frozen and slotted: a row read is a snapshot, never a handle to change the database through (every
change goes through a store function in a transaction). Statuses are the enums of
:mod:`agent_tui.core.states`; approval kinds, statuses and policy decisions are ``Literal`` types.
``row["column"]`` still reads a column, for code that has not moved to attributes yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar, cast

from agent_tui.core.states import ActionStatus, GoalStatus, StepStatus

ApprovalKind = Literal["action", "unknown", "budget", "plan"]
ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "withdrawn"]
Decision = Literal["allow", "ask", "deny"]
StepKind = Literal["tool", "agent", "plan"]

R = TypeVar("R", bound="_Row")


class _Row(Mapping[str, Any]):
    """Column access by name (a read-only mapping), and construction from a database row."""

    __slots__ = ()

    def __getitem__(self, column: str) -> Any:
        if column not in self._columns():
            raise KeyError(column)
        return getattr(self, column)

    def __iter__(self) -> Iterator[str]:
        return iter(f.name for f in fields(cast(Any, self)))

    def __len__(self) -> int:
        return len(self._columns())

    @classmethod
    def of(cls: type[R], row: Mapping[str, Any]) -> R:
        """The typed row of a database row (columns it does not know are ignored)."""
        names = cls._columns()
        return cls(**{k: v for k, v in row.items() if k in names})

    @classmethod
    def all_of(cls: type[R], rows: list[Mapping[str, Any]] | list[dict[str, Any]]) -> list[R]:
        return [cls.of(row) for row in rows]

    @classmethod
    def _columns(cls) -> frozenset[str]:
        known = _COLUMNS.get(cls)
        if known is None:
            known = _COLUMNS[cls] = frozenset(f.name for f in fields(cast(Any, cls)))
        return known


_COLUMNS: dict[type, frozenset[str]] = {}


@dataclass(frozen=True, slots=True)
class Goal(_Row):
    id: int
    title: str
    source: str
    status: GoalStatus
    workspace: str
    plan_version: int
    priority: int = 0
    dry_run: int = 0
    archived: int = 0
    text: str | None = None
    recipe_path: str | None = None
    recipe: str | None = None
    wait_reason: str | None = None
    status_message: str | None = None
    max_parallel: int | None = None
    schedule_id: int | None = None
    budget: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    replans: int = 0
    review_plan: int = 0
    approval_timeout: float | None = None
    resume_at: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", GoalStatus(self.status))


@dataclass(frozen=True, slots=True)
class Step(_Row):
    id: int
    goal_id: int
    key: str
    title: str
    kind: StepKind
    status: StepStatus
    plan_version: int = 1
    position: int = 0
    tool: str | None = None
    args: str = "{}"
    instructions: str | None = None
    approval: str | None = None
    wait_reason: str | None = None
    attempt: int = 0
    max_attempts: int = 1
    next_attempt_at: float | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None
    result: str | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    tools: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", StepStatus(self.status))


@dataclass(frozen=True, slots=True)
class Action(_Row):
    id: int
    goal_id: int
    step_id: int
    tool: str
    status: ActionStatus
    decision: Decision
    attempt: int = 0
    args: str = "{}"
    side_effects: int = 0
    decision_reason: str | None = None
    preview: str | None = None
    owner: str | None = None
    exit_code: int | None = None
    result: str | None = None
    error: str | None = None
    output_bytes: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    tool_call_id: str | None = None
    process: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ActionStatus(self.status))


@dataclass(frozen=True, slots=True)
class Approval(_Row):
    id: int
    kind: ApprovalKind
    goal_id: int
    status: ApprovalStatus
    title: str
    detail: str
    step_id: int | None = None
    action_id: int | None = None
    choice: str | None = None
    reason: str | None = None
    decided_by: str | None = None
    expires_at: float | None = None
    created_at: float = 0.0
    decided_at: float | None = None


@dataclass(frozen=True, slots=True)
class Artifact(_Row):
    id: int
    goal_id: int
    name: str
    version: int
    mime: str
    content: str = ""
    step_id: int | None = None
    action_id: int | None = None
    created_at: float = 0.0
