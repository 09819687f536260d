"""Read models shared by ``show``, ``ls`` and the UI: plain dicts with documented field names."""

from __future__ import annotations

import json
from typing import Any

from agent_tui.core.store import Record, Row, Store, readiness

GOAL_FIELDS = (
    "id",
    "title",
    "status",
    "wait_reason",
    "status_message",
    "resume_at",
    "priority",
    "source",
    "dry_run",
    "workspace",
    "recipe_path",
    "schedule_id",
    "plan_version",
    "created_at",
    "started_at",
    "finished_at",
    "runs_on",
    "host",
)


def goal_summary(store: Store, goal: Row, waits_for: str | None = None) -> dict[str, Any]:
    """A goal's fields, step counts and usage; ``waits_for`` is what it waits for when no live
    worker may take its steps (see :func:`readiness.placement_waits`)."""
    out = {k: goal[k] for k in GOAL_FIELDS}
    out["waits_for"] = waits_for
    out["dry_run"] = bool(goal["dry_run"])
    counts = store.all(
        "SELECT status, count(*) AS n FROM steps WHERE goal_id = ?"
        " AND plan_version = ? GROUP BY status",
        (goal["id"], goal["plan_version"]),
    )
    by_status = {r["status"]: r["n"] for r in counts}
    total = sum(by_status.values())
    done = by_status.get("completed", 0) + by_status.get("skipped", 0)
    out["steps_total"] = total
    out["steps_done"] = done
    out["progress"] = round(done / total, 3) if total else 0.0
    out.update(usage_totals(store, "goal_id = ?", (goal["id"],)))
    return out


USAGE_SUMS = (
    "count(*) AS n, count(cost) AS known, coalesce(sum(cost), 0) AS usd,"
    " coalesce(sum(prompt_tokens), 0) AS p, coalesce(sum(completion_tokens), 0) AS c,"
    " coalesce(sum(estimated), 0) AS est"
)
"""The sums a usage figure is made of (see :func:`_usage`)."""


def _usage(row: Row) -> dict[str, Any]:
    """A usage figure from :data:`USAGE_SUMS`: the cost is ``None`` (unknown) if any call's is."""
    return {
        "model_calls": row["n"],
        "prompt_tokens": row["p"],
        "completion_tokens": row["c"],
        "tokens_estimated": row["est"] > 0,
        "cost_usd": row["usd"] if row["known"] == row["n"] else None,
        "cost_usd_known": row["usd"],
        "cost_calls_known": row["known"],
    }


def usage_totals(store: Store, where: str, params: tuple[Any, ...]) -> dict[str, Any]:
    """Model calls, tokens and cost; the cost is ``None`` (unknown) if any call's cost is."""
    row = store.one(f"SELECT {USAGE_SUMS} FROM usage WHERE {where}", params)
    assert row is not None
    return _usage(row)


def usage_by_day(store: Store, days: int = 7) -> list[dict[str, Any]]:
    """Usage per local day, newest first, for the last ``days`` days that had any."""
    rows = store.all(
        f"SELECT date(ts, 'unixepoch', 'localtime') AS day, {USAGE_SUMS}"
        " FROM usage GROUP BY day ORDER BY day DESC LIMIT ?",
        (days,),
    )
    return [{"day": r["day"], **_usage(r)} for r in rows]


def list_goals(
    store: Store, *, include_archived: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    """Goals in id order; with ``limit``, only the newest ``limit`` of them (still in id order),
    so a page costs the same whatever the history holds."""
    where = "" if include_archived else " WHERE archived = 0"
    if limit is None:
        rows = store.all(f"SELECT * FROM goals{where} ORDER BY id")
    else:
        rows = store.all(
            f"SELECT * FROM (SELECT * FROM goals{where} ORDER BY id DESC LIMIT ?) AS page ORDER BY id",
            (limit,),
        )
    waits = readiness.placement_waits(store)
    return [goal_summary(store, g, waits.get(g["id"])) for g in rows]


def count_goals(store: Store, *, include_archived: bool = False) -> int:
    where = "" if include_archived else " WHERE archived = 0"
    row = store.one(f"SELECT count(*) AS n FROM goals{where}")
    return int(row["n"]) if row else 0


def _step_view(step: Row, deps: list[str]) -> dict[str, Any]:
    result = json.loads(step["result"]) if step["result"] else None
    return {
        "id": step["id"],
        "key": step["key"],
        "title": step["title"],
        "kind": step["kind"],
        "tool": step["tool"],
        "status": step["status"],
        "wait_reason": step["wait_reason"],
        "attempt": step["attempt"],
        "max_attempts": step["max_attempts"],
        "depends_on": deps,
        "error": step["error"],
        "next_attempt_at": step["next_attempt_at"],
        "plan_version": step["plan_version"],
        "started_at": step["started_at"],
        "finished_at": step["finished_at"],
        "output": result.get("output") if result else None,
        "result": result.get("data") if result else None,
    }


def _action_view(action: Row, step_keys: dict[int, str], output: str) -> dict[str, Any]:
    result = json.loads(action["result"]) if action["result"] else {}
    return {
        "id": action["id"],
        "step": step_keys.get(action["step_id"]),
        "step_id": action["step_id"],
        "tool": action["tool"],
        "args": json.loads(action["args"]),
        "status": action["status"],
        "decision": action["decision"],
        "decision_reason": action["decision_reason"],
        "preview": action["preview"],
        "exit_code": action["exit_code"],
        "error": action["error"],
        "output": output,
        "output_bytes": action["output_bytes"],
        "output_log": (
            {"host": action["output_host"], "path": action["output_log"]}
            if action["output_log"]
            else None
        ),
        "result": result.get("data"),
        "started_at": action["started_at"],
        "finished_at": action["finished_at"],
    }


def goal_row(store: Store, goal_id: int) -> Row | None:
    """A goal's row, or ``None`` if there is no such goal."""
    return store.one("SELECT * FROM goals WHERE id = ?", (goal_id,))


def goal_detail(store: Store, goal_id: int) -> dict[str, Any] | None:
    goal = goal_row(store, goal_id)
    if goal is None:
        return None
    steps = store.all(
        "SELECT * FROM steps WHERE goal_id = ? ORDER BY plan_version, position", (goal_id,)
    )
    keys = {s["id"]: s["key"] for s in steps}
    actions = store.all("SELECT * FROM actions WHERE goal_id = ? ORDER BY id", (goal_id,))
    # One query each for every step's dependencies and every action's output, not one per row.
    deps: dict[int, list[str]] = {}
    for row in store.execute(
        "SELECT d.step_id, s.key FROM steps me JOIN step_deps d ON d.step_id = me.id"
        " JOIN steps s ON s.id = d.depends_on WHERE me.goal_id = ?"
        " ORDER BY d.step_id, s.position",
        (goal_id,),
    ):
        deps.setdefault(row[0], []).append(row[1])
    chunks: dict[int, list[str]] = {}
    for row in store.execute(
        "SELECT o.action_id, o.text FROM actions a JOIN output o ON o.action_id = a.id"
        " WHERE a.goal_id = ? ORDER BY o.action_id, o.id",
        (goal_id,),
    ):
        chunks.setdefault(row[0], []).append(row[1])
    outputs = {action_id: "".join(texts) for action_id, texts in chunks.items()}
    artifacts = store.all(
        "SELECT id, name, version, mime, content, step_id, created_at"
        " FROM artifacts WHERE goal_id = ? ORDER BY id",
        (goal_id,),
    )
    approvals = store.all(
        "SELECT id, kind, status, title, detail, reason, choice, created_at,"
        " decided_at FROM approvals WHERE goal_id = ? ORDER BY id",
        (goal_id,),
    )
    events = store.all(
        "SELECT id, ts, kind, message, step_id, action_id FROM events"
        " WHERE goal_id = ? ORDER BY id",
        (goal_id,),
    )
    return {
        "goal": goal_summary(store, goal, readiness.placement_waits(store, goal_id).get(goal_id)),
        "text": goal["text"],
        "conversations": conversations(store, goal_id),
        "steps": [_step_view(s, deps.get(s["id"], [])) for s in steps],
        "actions": [_action_view(a, keys, outputs.get(a["id"], "")) for a in actions],
        "artifacts": artifacts,
        "approvals": approvals,
        "events": events,
    }


def plan_versions(store: Store, goal_id: int) -> list[Record]:
    """Every plan a goal had, oldest first: version, reason, created_at, steps (JSON text)."""
    return store.all(
        "SELECT version, reason, created_at, steps FROM plans WHERE goal_id = ? ORDER BY version",
        (goal_id,),
    )


def step_times(store: Store, goal_id: int) -> list[Record]:
    """Every step of a goal (all plan versions, in plan order): id, key, plan version, status,
    started and finished times."""
    return store.all(
        "SELECT id, key, plan_version, status, started_at, finished_at FROM steps"
        " WHERE goal_id = ? ORDER BY plan_version, position",
        (goal_id,),
    )


def goal_events(store: Store, goal_id: int) -> list[Record]:
    """A goal's journal in order, each event with its data (JSON text, or ``None``)."""
    return store.all(
        "SELECT id, ts, kind, message, step_id, action_id, data FROM events"
        " WHERE goal_id = ? ORDER BY id",
        (goal_id,),
    )


def conversations(store: Store, goal_id: int) -> list[dict[str, Any]]:
    """Each model step's conversation (plan and agent steps), message by message, in order."""
    rows = store.all(
        "SELECT s.key, s.kind, s.plan_version, m.step_id, m.content FROM messages m"
        " JOIN steps s ON s.id = m.step_id WHERE s.goal_id = ? ORDER BY m.step_id, m.seq",
        (goal_id,),
    )
    out: list[dict[str, Any]] = []
    for row in rows:
        if not out or out[-1]["step_id"] != row["step_id"]:
            out.append(
                {
                    "step_id": row["step_id"],
                    "step": row["key"],
                    "kind": row["kind"],
                    "plan_version": row["plan_version"],
                    "messages": [],
                }
            )
        out[-1]["messages"].append(json.loads(row["content"]))
    return store.redactor.redact_value(out) if store.redactor else out


def pending_approvals(store: Store) -> list[dict[str, Any]]:
    return store.all(
        "SELECT a.id, a.kind, a.goal_id, g.title AS goal_title, s.key AS step, a.title,"
        " a.detail, a.created_at, ac.tool, ac.decision_reason FROM approvals a"
        " JOIN goals g ON g.id = a.goal_id LEFT JOIN steps s ON s.id = a.step_id"
        " LEFT JOIN actions ac ON ac.id = a.action_id"
        " WHERE a.status = 'pending' ORDER BY a.id"
    )
