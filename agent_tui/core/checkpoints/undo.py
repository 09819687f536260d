"""Undo what a goal, or one of its steps, changed in its workspace.

The files the chosen checkpoints changed go back to how they were before the first of them. A file
changed since the last of them (by another goal, a later step or the user) is a conflict: named,
and left alone unless forced. The workspace is snapshotted before and after, and the undo is a
checkpoint of its own, so undoing it again puts the changes back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_tui.core.checkpoints import record
from agent_tui.core.checkpoints.shadow import Shadow
from agent_tui.core.store import Row, Store, checkpoints, views


class UndoError(Exception):
    """There is nothing to undo, or it cannot be done now; the message says why and what to do."""


class UndoTargetMissing(UndoError):
    """The goal or step named does not exist."""


@dataclass(frozen=True, slots=True)
class UndoItem:
    """One file and what undo does to it."""

    path: str
    action: str
    """``restore`` (back to its old content), ``recreate`` (it was deleted) or ``delete`` (new)."""
    conflict: bool
    """Changed since the checkpoint by someone else: left alone unless forced."""


@dataclass(frozen=True, slots=True)
class UndoPlan:
    """What an undo would do, shown before it is done."""

    goal_id: int
    step_id: int | None
    scope: str
    """``goal 3`` or ``goal 3, step build``."""
    workspace: str
    checkpoints: tuple[int, ...]
    items: tuple[UndoItem, ...]

    @property
    def conflicts(self) -> list[str]:
        return [i.path for i in self.items if i.conflict]

    def describe(self) -> str:
        """The plan in lines a person reads before saying yes."""
        verbs = {"restore": "restore", "recreate": "recreate", "delete": "delete"}
        n = len(self.items)
        lines = [
            f"Undo {self.scope}: {n} file{'s' if n != 1 else ''} in {self.workspace}"
            f" ({len(self.checkpoints)} checkpoint{'s' if len(self.checkpoints) != 1 else ''})"
        ]
        for item in self.items:
            mark = "  CONFLICT: changed since, left alone without --force" if item.conflict else ""
            lines.append(f"  {verbs[item.action]:<8} {item.path}{mark}")
        return "\n".join(lines)


def _selected(store: Store, goal_id: int, step_key: str | None) -> tuple[Sequence[Row], int | None]:
    if views.goal_row(store, goal_id) is None:
        raise UndoTargetMissing(f"no goal {goal_id}")
    if checkpoints.running_steps(store, goal_id):
        raise UndoError(
            f"goal {goal_id} has steps running: pause it (agent-tui pause {goal_id}) or let them "
            "finish, then undo"
        )
    step_id = None
    if step_key is not None:
        step_id = checkpoints.latest_step_id(store, goal_id, step_key)
        if step_id is None:
            raise UndoTargetMissing(
                f"goal {goal_id} has no step {step_key!r} (see agent-tui show {goal_id})"
            )
        rows = checkpoints.not_undone(store, step_id=step_id)
    else:
        rows = checkpoints.not_undone(store, goal_id=goal_id)
    if any(r["pruned_at"] for r in rows):
        raise UndoError(
            f"goal {goal_id}'s snapshots were pruned ([checkpoints] keep_days): its changes are "
            f"recorded (agent-tui show {goal_id}) but can no longer be undone"
        )
    rows = [r for r in rows if record.files_of(r)]
    if not rows:
        what = f"step {step_key!r} of goal {goal_id}" if step_key else f"goal {goal_id}"
        raise UndoError(f"{what} changed no file that is not undone already: nothing to undo")
    if len({r["workspace"] for r in rows}) > 1:
        raise UndoError(f"goal {goal_id}'s checkpoints are in more than one workspace")
    return rows, step_id


def _compute(shadow: Shadow, rows: Sequence[Row], now: str) -> list[UndoItem]:
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for row in rows:
        for item in record.files_of(row):
            first.setdefault(item["path"], row["before"])
            last[item["path"]] = row["after"]
    paths = sorted(first)
    conflicts: set[str] = set()
    by_expected: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_expected[last[path]].append(path)
    for commit, group in by_expected.items():
        conflicts.update(shadow.differing(commit, now, group))
    existing_now = shadow.present(now, paths)
    by_target: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_target[first[path]].append(path)
    existed: set[str] = set()
    for commit, group in by_target.items():
        existed.update(shadow.present(commit, group))
    items = []
    for path in paths:
        if path in existed:
            action = "restore" if path in existing_now else "recreate"
        elif path in existing_now:
            action = "delete"
        else:
            continue
        items.append(UndoItem(path, action, path in conflicts))
    return items


def plan_undo(store: Store, goal_id: int, step_key: str | None = None) -> UndoPlan:
    """What undoing the goal (or one step) would do now; raises :class:`UndoError`."""
    rows, step_id = _selected(store, goal_id, step_key)
    shadow = Shadow(Path(rows[0]["workspace"]))
    with shadow.locked():
        now, _ = shadow.snapshot()
        items = _compute(shadow, rows, now)
    scope = f"goal {goal_id}" + (f", step {step_key}" if step_key else "")
    return UndoPlan(
        goal_id, step_id, scope, rows[0]["workspace"], tuple(r["id"] for r in rows), tuple(items)
    )


def apply_undo(store: Store, plan: UndoPlan, *, force: bool = False, by: str = "user") -> int:
    """Carry out ``plan`` (as shown); returns the undo's own checkpoint id.

    The plan is made again under the workspace's lock; if it changed since it was shown, nothing is
    done. Conflicts stop it unless ``force``.
    """
    rows, _ = _selected(store, plan.goal_id, _step_key(store, plan.step_id))
    if tuple(r["id"] for r in rows) != plan.checkpoints:
        raise UndoError("the goal's checkpoints changed since the plan was shown: undo again")
    shadow = Shadow(Path(plan.workspace))
    with shadow.locked():
        before, _ = shadow.snapshot()
        items = _compute(shadow, rows, before)
        if tuple(items) != plan.items:
            raise UndoError("the workspace changed since the plan was shown: undo again")
        conflicts = [i.path for i in items if i.conflict]
        if conflicts and not force:
            raise UndoError(
                f"{len(conflicts)} file(s) changed since ({', '.join(conflicts[:5])}): they would "
                "be overwritten; add --force to undo them anyway"
            )
        first: dict[str, str] = {}
        for row in rows:
            for changed in record.files_of(row):
                first.setdefault(changed["path"], row["before"])
        restore: dict[str, list[str]] = defaultdict(list)
        delete = []
        for item in items:
            if item.action == "delete":
                delete.append(item.path)
            else:
                restore[first[item.path]].append(item.path)
        for commit, group in restore.items():
            shadow.restore(commit, group)
        shadow.delete(delete)
        after, skipped = shadow.snapshot()
        change = shadow.change(before, after, skipped)
    with store.write() as tx:
        undo_id = record.insert(
            tx,
            goal_id=plan.goal_id,
            step_id=plan.step_id,
            action_id=None,
            kind="undo",
            workspace=plan.workspace,
            before=before,
            after=after,
            change=change,
        )
        checkpoints.mark_undone(tx, [r["id"] for r in rows], undo_id)
        tx.event(
            "goal.undone",
            f"undid {plan.scope}: {change.summary()} (by {by})",
            goal_id=plan.goal_id,
            step_id=plan.step_id,
            checkpoint_id=undo_id,
        )
    with shadow.locked():
        shadow.keep({f"undo/{undo_id}/before": before, f"undo/{undo_id}/after": after})
    return undo_id


def _step_key(store: Store, step_id: int | None) -> str | None:
    if step_id is None:
        return None
    return checkpoints.step_key(store, step_id)
