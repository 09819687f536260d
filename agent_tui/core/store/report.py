"""The final report of a goal, written from the recorded results only.

Every line comes from a row: a step's summary from its ``finish_step`` call, an action from the
actions table, a file from a ``write_file`` action that succeeded. Nothing is claimed that no
action supports.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent_tui.core.display import changes_summary
from agent_tui.core.states import ActionStatus, GoalStatus, StepStatus
from agent_tui.core.store import Tx

REPORT_NAME = "Final report"


def _cost_line(tx: Tx, goal_id: int) -> str:
    row = tx.one(
        "SELECT count(*) AS n, count(cost) AS known, coalesce(sum(cost), 0) AS usd,"
        " coalesce(sum(prompt_tokens), 0) + coalesce(sum(completion_tokens), 0) AS tok,"
        " coalesce(sum(estimated), 0) AS est FROM usage WHERE goal_id = ?",
        (goal_id,),
    )
    assert row is not None
    if not row["n"]:
        return "No model calls."
    if row["known"] == row["n"]:
        cost = f"${row['usd']:.4f}"
    elif not row["known"]:
        cost = "unknown"
    else:
        unknown = row["n"] - row["known"]
        cost = f"at least ${row['usd']:.4f} (the cost of {unknown} call(s) is unknown)"
    tokens = f"about {row['tok']} tokens (estimated)" if row["est"] else f"{row['tok']} tokens"
    return f"{row['n']} model call(s), {tokens}, cost {cost}."


def _action_line(action: dict[str, object]) -> str:
    args = json.loads(str(action["args"]))
    tool = action["tool"]
    if tool == "shell":
        what = f"`{str(args.get('command', ''))[:120]}`"
    elif tool in ("write_file", "read_file", "list_files"):
        what = f"`{args.get('path', '.')}`"
    elif tool in ("web_fetch",):
        what = str(args.get("url", ""))
    elif tool == "write_document":
        what = f"document '{args.get('name', '')}'"
    else:
        what = json.dumps(args)[:120]
    status = str(action["status"])
    if status == ActionStatus.DRY_RUN:
        status = "dry run: not executed"
    if action["exit_code"] is not None:
        status += f", exit {action['exit_code']}"
    if action["error"] and action["status"] != ActionStatus.SUCCEEDED:
        status += f": {str(action['error'])[:160]}"
    return f"- {tool} {what} — {status}"


def build(tx: Tx, goal_id: int) -> str:
    """The report's Markdown."""
    goal = tx.one("SELECT * FROM goals WHERE id = ?", (goal_id,))
    assert goal is not None
    lines = [f"# {REPORT_NAME}: {goal['title']}", ""]
    if goal["text"]:
        lines += [f"**Goal:** {goal['text']}", ""]
    if goal["status"] == GoalStatus.FAILED:
        lines += [f"**The goal failed:** {goal['status_message']}", ""]
    steps = tx.all(
        "SELECT * FROM steps WHERE goal_id = ? AND kind != 'plan' ORDER BY plan_version, position",
        (goal_id,),
    )
    done = sum(1 for s in steps if s["status"] == StepStatus.COMPLETED)
    lines += [
        f"{done} of {len(steps)} step(s) completed. {_cost_line(tx, goal_id)}",
        "",
        "## Steps",
        "",
    ]
    for step in steps:
        took = ""
        if step["started_at"] and step["finished_at"]:
            took = f" in {step['finished_at'] - step['started_at']:.1f} s"
        lines.append(f"### {step['title']} ({step['status']}{took})")
        result = json.loads(step["result"]) if step["result"] else {}
        summary = result.get("data", {}).get("summary") or (
            result.get("output", "") if step["kind"] == "agent" else ""
        )
        if summary:
            lines += ["", str(summary).strip()]
        if step["error"]:
            lines += ["", f"Error: {step['error']}"]
        actions = tx.all(
            "SELECT tool, args, status, exit_code, error FROM actions"
            " WHERE step_id = ? ORDER BY id",
            (step["id"],),
        )
        if actions:
            lines += ["", *(_action_line(a) for a in actions)]
        changed = tx.one(
            "SELECT count(*) AS n, sum(files) AS f, sum(added) AS a, sum(removed) AS r"
            " FROM checkpoints WHERE step_id = ? AND kind = 'action' AND undone_by IS NULL",
            (step["id"],),
        )
        if changed and changed["f"]:
            lines += ["", f"It {changes_summary(changed['f'], changed['a'], changed['r'])}."]
        lines.append("")
    lines += _files_section(tx, goal_id, Path(goal["workspace"]))
    docs = tx.all(
        "SELECT name, max(version) AS v FROM artifacts WHERE goal_id = ? AND name != ?"
        " GROUP BY name ORDER BY min(id)",
        (goal_id, f"{REPORT_NAME}"),
    )
    if docs:
        lines += ["## Documents", "", *(f"- {d['name']} (version {d['v']})" for d in docs), ""]
    return "\n".join(lines).rstrip() + "\n"


def _files_section(tx: Tx, goal_id: int, workspace: Path) -> list[str]:
    """The files the goal changed, from its checkpoints (and ``write_file`` results without one)."""
    changes: dict[str, str] = {}
    for row in tx.all(
        "SELECT changes FROM checkpoints WHERE goal_id = ? AND kind = 'action'"
        " AND undone_by IS NULL ORDER BY id",
        (goal_id,),
    ):
        for item in json.loads(row["changes"] or "{}").get("files", []):
            first = changes.get(item["path"])
            status = item["status"]
            if first == "added" and status == "modified":
                status = "added"
            changes[item["path"]] = status
    for row in tx.all(
        "SELECT DISTINCT json_extract(result, '$.data.path') AS path FROM actions"
        " WHERE goal_id = ? AND tool = 'write_file' AND status = 'succeeded'",
        (goal_id,),
    ):
        if row["path"] and row["path"] not in changes:
            changes[row["path"]] = "written"
    if not changes:
        return []
    lines = ["## Files", ""]
    for path, status in sorted(changes.items()):
        lines.append(f"- {status}: {workspace / path}")
    return [*lines, ""]


def write(tx: Tx, goal_id: int) -> None:
    """Save the report as the goal's last document."""
    content = build(tx, goal_id)
    row = tx.one(
        "SELECT max(version) AS v FROM artifacts WHERE goal_id = ? AND name = ?",
        (goal_id, REPORT_NAME),
    )
    version = ((row["v"] if row else None) or 0) + 1
    tx.insert(
        "artifacts",
        {
            "goal_id": goal_id,
            "name": REPORT_NAME,
            "version": version,
            "mime": "text/markdown",
            "content": content,
            "created_at": tx.now,
        },
    )
    tx.event(
        "artifact.saved", f"document '{REPORT_NAME}' saved (version {version})", goal_id=goal_id
    )
