"""Checkpoint rows: what each side-effecting action changed in its workspace, kept for undo."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from agent_tui.core.checkpoints.shadow import Change
from agent_tui.core.display import changes_summary as summary
from agent_tui.core.store import Row, Tx
from agent_tui.core.store.checkpoints import for_goal as for_goal  # read here by show


def insert(
    tx: Tx,
    *,
    goal_id: int,
    step_id: int | None,
    action_id: int | None,
    kind: str,
    workspace: str,
    before: str,
    after: str,
    change: Change,
) -> int:
    """Store a checkpoint and journal its summary; returns its id."""
    checkpoint_id = tx.insert(
        "checkpoints",
        {
            "goal_id": goal_id,
            "step_id": step_id,
            "action_id": action_id,
            "kind": kind,
            "workspace": workspace,
            "before": before,
            "after": after,
            "files": len(change.files),
            "added": change.added,
            "removed": change.removed,
            "changes": json.dumps(
                {"files": [asdict(f) for f in change.files], "skipped": list(change.skipped)}
            ),
            "diff": change.diff or None,
            "created_at": tx.now,
        },
    )
    what = "undo" if kind == "undo" else "action"
    tx.event(
        "checkpoint.recorded",
        f"{what} {change.summary()}"
        + (f"; skipped {len(change.skipped)}" if change.skipped else ""),
        goal_id=goal_id,
        step_id=step_id,
        action_id=action_id,
        checkpoint_id=checkpoint_id,
    )
    return checkpoint_id


def files_of(row: Row) -> list[dict[str, Any]]:
    """The changed files of a checkpoint row."""
    files: list[dict[str, Any]] = json.loads(row["changes"] or "{}").get("files", [])
    return files


def skipped_of(row: Row) -> list[str]:
    skipped: list[str] = json.loads(row["changes"] or "{}").get("skipped", [])
    return skipped


def describe(row: Row, limit: int = 20) -> str:
    """A checkpoint in lines: ``changed 2 files (+3 −1)`` and one line per file (the first few)."""
    marks = {"added": "A", "modified": "M", "deleted": "D"}
    head = summary(row["files"], row["added"], row["removed"])
    if row.get("undone_by"):
        head += f" (undone by checkpoint {row['undone_by']})"
    lines = [head]
    files = files_of(row)
    for item in files[:limit]:
        counts = "binary" if item["binary"] else f"+{item['added']} −{item['removed']}"
        lines.append(f"  {marks.get(item['status'], '?')} {item['path']} ({counts})")
    if len(files) > limit:
        lines.append(f"  … and {len(files) - limit} more")
    lines += [f"  skipped {name}" for name in skipped_of(row)]
    return "\n".join(lines)
