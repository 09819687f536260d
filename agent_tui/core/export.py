"""A goal as one self-contained record: a JSON document and its Markdown rendering.

The JSON extends :func:`agent_tui.core.store.views.goal_detail` (what ``show --json`` prints) with the
plan versions, every version of every document, cost per model and the events with their data.
The Markdown shows the same for a person: the latest version of each document in full, earlier
versions listed. Everything read here was redacted when it was stored, and is redacted again with
the exporting process's redactor: rows written before a name joined ``[secrets] names`` stay safe.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

from agent_tui import __version__
from agent_tui.core import timeline, transcript
from agent_tui.core.display import changes_summary as summary
from agent_tui.core.display import duration, output_log_place
from agent_tui.core.states import ActionStatus
from agent_tui.core.store import Store
from agent_tui.core.store.checkpoints import records as checkpoint_records
from agent_tui.core.store.usage import by_model as usage_by_model
from agent_tui.core.store.views import goal_detail, goal_events, plan_versions

FORMAT = "agent-tui-export/1"
_LANGS = {"text/markdown": "markdown", "application/json": "json", "text/html": "html"}


def export_goal(store: Store, goal_id: int, *, now: float | None = None) -> dict[str, Any] | None:
    """Everything recorded about one goal, or ``None`` if there is no such goal."""
    detail = goal_detail(store, goal_id)
    if detail is None:
        return None
    plans = [{**row, "steps": json.loads(row["steps"])} for row in plan_versions(store, goal_id)]
    by_model = usage_by_model(store, goal_id)
    goal = detail["goal"]
    usage = {
        key: goal[key]
        for key in (
            "model_calls",
            "prompt_tokens",
            "completion_tokens",
            "tokens_estimated",
            "cost_usd",
        )
    }
    events = [
        {**row, "data": json.loads(row["data"]) if row["data"] else None}
        for row in goal_events(store, goal_id)
    ]
    doc = {
        "format": FORMAT,
        "exported_at": time.time() if now is None else now,
        "exported_by": f"agent-tui {__version__}",
        "goal": goal,
        "text": detail["text"],
        "plans": plans,
        "steps": detail["steps"],
        "actions": detail["actions"],
        "documents": detail["artifacts"],
        "approvals": detail["approvals"],
        "checkpoints": [
            {**row, "changes": json.loads(row["changes"] or "{}")}
            for row in checkpoint_records(store, goal_id)
        ],
        "usage": {**usage, "by_model": by_model},
        "conversations": detail["conversations"],
        "events": events,
        "gantt": _gantt(store, goal_id, now),
    }
    redacted: dict[str, Any] = store.redactor.redact_value(doc)
    return redacted


def _gantt(store: Store, goal_id: int, now: float | None) -> dict[str, Any] | None:
    """When each step ran and waited (approval, retry, limits, the queue), with the text chart."""
    line = timeline.build(store, goal_id, now=now)
    if line is None:
        return None
    return {**timeline.as_json(line), "chart": timeline.render_text(line, 100)}


# -- Markdown ---------------------------------------------------------------------------------


def render_markdown(doc: dict[str, Any]) -> str:
    """The export as a Markdown report, in the order a reader asks: what, how, what came out."""
    goal = doc["goal"]
    parts = [f"# Goal {goal['id']}: {_inline(goal['title'])}", _summary(doc)]
    if doc["text"]:
        parts += ["## Goal", doc["text"].strip()]
    parts += ["## Plan", *_plans(doc["plans"])]
    parts += ["## Timeline", _timeline(doc["steps"])]
    if doc.get("gantt") and doc["gantt"]["steps"]:
        parts += ["### Running and waiting", _fence("\n".join(doc["gantt"]["chart"]))]
    if doc["actions"]:
        parts += ["## Actions", *_actions(doc["actions"])]
    if doc.get("checkpoints"):
        parts += ["## Changes in the workspace", *_changes(doc["checkpoints"])]
    if doc["documents"]:
        parts += ["## Documents", *_documents(doc["documents"])]
    if doc["approvals"]:
        parts += ["## Approvals", _approvals(doc["approvals"])]
    parts += ["## Cost", _cost(doc["usage"])]
    if doc.get("conversations"):
        parts += ["## Conversations", *_conversations(doc["conversations"])]
    parts += ["## Events", _events(doc["events"])]
    return "\n\n".join(p for p in parts if p) + "\n"


def _summary(doc: dict[str, Any]) -> str:
    g = doc["goal"]
    status = g["status"] + (f" — {g['status_message']}" if g["status_message"] else "")
    rows = [
        ("Status", status),
        ("Priority", str(g["priority"])),
        ("Dry run", "yes" if g["dry_run"] else "no"),
        ("Workspace", f"`{g['workspace']}`" if g["workspace"] else "-"),
        ("Recipe", f"`{g['recipe_path']}`" if g["recipe_path"] else "-"),
        ("Created", _time(g["created_at"])),
        ("Started", _time(g["started_at"])),
        ("Finished", _time(g["finished_at"]) + _took(g["started_at"], g["finished_at"])),
        ("Steps", f"{g['steps_done']} of {g['steps_total']} done"),
        ("Cost", _money(doc["usage"])),
    ]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]
    lines.append("")
    lines.append(f"Exported by {doc['exported_by']} on {_time(doc['exported_at'])}.")
    return "\n".join(lines)


def _plans(plans: list[dict[str, Any]]) -> list[str]:
    if not plans:
        return ["No plan yet."]
    out = []
    for plan in plans:
        lines = [f"### Version {plan['version']} ({plan['reason']}, {_time(plan['created_at'])})"]
        lines.append("")
        for n, step in enumerate(plan["steps"], start=1):
            what = step.get("tool") or step.get("kind") or "step"
            line = f"{n}. `{step.get('id')}` — {_inline(step.get('title') or what)}"
            if step.get("title") and step.get("tool"):
                line += f" ({step['tool']})"
            if step.get("depends_on"):
                line += f"; after {', '.join(f'`{d}`' for d in step['depends_on'])}"
            lines.append(line)
            if step.get("instructions"):
                lines.append(f"   {_inline(step['instructions'])}")
        out.append("\n".join(lines))
    return out


def _timeline(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return "No steps."
    lines = [
        "| Plan | Step | Kind | Status | Attempt | Started | Took | Note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        note = s["error"] or (f"waiting: {s['wait_reason']}" if s["wait_reason"] else "")
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    str(s["plan_version"]),
                    s["key"],
                    s["tool"] or s["kind"],
                    s["status"],
                    f"{s['attempt']}/{s['max_attempts']}",
                    _time(s["started_at"]),
                    _took(s["started_at"], s["finished_at"]).strip(" ()"),
                    note,
                )
            )
            + " |"
        )
    return "\n".join(lines)


def _actions(actions: list[dict[str, Any]]) -> list[str]:
    out = []
    for a in actions:
        code = "" if a["exit_code"] is None else f", exit {a['exit_code']}"
        status = "dry run: not executed" if a["status"] == ActionStatus.DRY_RUN else a["status"]
        head = f"### #{a['id']} {a['step']}: {a['tool']} — {status}{code}"
        lines = [head, ""]
        reason = f" ({a['decision_reason']})" if a["decision_reason"] else ""
        lines.append(f"Decision: {a['decision']}{reason}. {_when(a)}")
        if a["error"]:
            lines.append(f"\nError: {_inline(a['error'])}")
        if a["preview"]:
            lines += ["", _fence(a["preview"])]
        if a["output"]:
            shown = len(a["output"].encode("utf-8"))
            kept = ""
            if shown < a["output_bytes"]:
                log = a["output_log"] or {}
                place = output_log_place(log.get("host"), log.get("path"), "its output log")
                kept = f" (the last {shown} of {a['output_bytes']} bytes; all of it: {place})"
            lines += ["", f"Output{kept}:", "", _fence(a["output"])]
        out.append("\n".join(lines))
    return out


def _changes(checkpoints: list[dict[str, Any]]) -> list[str]:
    out = []
    for cp in checkpoints:
        what = f"action #{cp['action_id']}" if cp["action_id"] else "undo"
        undone = f" — undone by checkpoint {cp['undone_by']}" if cp["undone_by"] else ""
        head = f"### Checkpoint {cp['id']} ({what}): {summary(cp['files'], cp['added'], cp['removed'])}"
        lines = [head + undone, ""]
        for item in cp["changes"].get("files", []):
            counts = "binary" if item["binary"] else f"+{item['added']} −{item['removed']}"
            lines.append(f"- {item['status']} `{item['path']}` ({counts})")
        lines += [f"- skipped {name}" for name in cp["changes"].get("skipped", [])]
        if cp["diff"]:
            lines += ["", _fence(cp["diff"], "diff")]
        out.append("\n".join(lines))
    return out


def _documents(documents: list[dict[str, Any]]) -> list[str]:
    latest: dict[str, dict[str, Any]] = {}
    versions: dict[str, list[dict[str, Any]]] = {}
    for d in documents:
        versions.setdefault(d["name"], []).append(d)
        if d["name"] not in latest or d["version"] > latest[d["name"]]["version"]:
            latest[d["name"]] = d
    out = []
    for name, doc in latest.items():
        lines = [f"### {_inline(name)} (version {doc['version']}, {doc['mime']})", ""]
        older = [v for v in versions[name] if v is not doc]
        if older:
            listed = ", ".join(
                f"{v['version']} ({_time(v['created_at'])}, {len(v['content'])} chars)"
                for v in sorted(older, key=lambda v: v["version"])
            )
            lines += [f"Earlier versions (in the JSON export): {listed}.", ""]
        lines.append(_fence(doc["content"], _LANGS.get(doc["mime"], "")))
        out.append("\n".join(lines))
    return out


def _approvals(approvals: list[dict[str, Any]]) -> str:
    lines = ["| # | Kind | Status | What | Decided | Reason |", "|---|---|---|---|---|---|"]
    for a in approvals:
        decided = _time(a["decided_at"]) + (f" ({a['choice']})" if a["choice"] else "")
        values = (str(a["id"]), a["kind"], a["status"], a["title"], decided, a["reason"] or "")
        lines.append("| " + " | ".join(_cell(v) for v in values) + " |")
    return "\n".join(lines)


def _cost(usage: dict[str, Any]) -> str:
    if not usage["model_calls"]:
        return "No model calls."
    about = "about " if usage.get("tokens_estimated") else ""
    lines = [
        f"{_money(usage)}: {about}{usage['prompt_tokens']} prompt and "
        f"{usage['completion_tokens']} completion tokens"
        + (" (estimated: the provider reported none)." if about else "."),
        "",
        "| Model | Calls | Prompt tokens | Completion tokens | Cost (USD) |",
        "|---|---|---|---|---|",
    ]
    for m in usage["by_model"]:
        cost = "unknown" if m["cost_usd"] is None else f"{m['cost_usd']:.4f}"
        values = (
            m["model"],
            str(m["model_calls"]),
            str(m["prompt_tokens"]),
            str(m["completion_tokens"]),
            cost,
        )
        lines.append("| " + " | ".join(_cell(v) for v in values) + " |")
    return "\n".join(lines)


def _conversations(conversations: list[dict[str, Any]]) -> list[str]:
    parts = []
    for talk in conversations:
        title = f"### Step {_inline(talk['step'])} ({talk['kind']}, plan v{talk['plan_version']})"
        parts += [title, _fence("\n".join(transcript.render(talk["messages"])))]
    return parts


def _events(events: list[dict[str, Any]]) -> str:
    if not events:
        return "No events."
    lines = ["| Time | Event | Message |", "|---|---|---|"]
    for e in events:
        lines.append(f"| {_time(e['ts'])} | {e['kind']} | {_cell(e['message'])} |")
    return "\n".join(lines)


# -- small pieces -----------------------------------------------------------------------------


def _money(usage: dict[str, Any]) -> str:
    calls = usage["model_calls"]
    if not calls:
        return "no model calls"
    cost = "unknown cost" if usage["cost_usd"] is None else f"${usage['cost_usd']:.4f}"
    return f"{cost} over {calls} model call{'s' if calls != 1 else ''}"


def _time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def _took(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    return f" ({duration(start, end)})"


def _when(action: dict[str, Any]) -> str:
    if action["started_at"] is None:
        return "Never started."
    return f"Started {_time(action['started_at'])}{_took(action['started_at'], action['finished_at'])}."


def _inline(text: str) -> str:
    """One line of text; Markdown's own characters at the start of a line stay literal."""
    return " ".join(str(text).split())


def _cell(text: str) -> str:
    """Text that cannot break a table row."""
    return _inline(text).replace("\\", "\\\\").replace("|", "\\|") or " "


def _fence(text: str, lang: str = "") -> str:
    """A code block whose fence is longer than any run of backticks inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{lang}\n{body}{fence}"
