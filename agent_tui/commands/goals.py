"""``add``, ``ls``, ``show``, ``pause``, ``resume``, ``cancel``, ``retry``, ``schedules``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from agent_tui.commands.common import (
    UsageError,
    emit_json,
    open_store,
    parse_goal_id,
    settings,
    table,
    when,
)
from agent_tui.core.clock import start_of_day
from agent_tui.core.display import GLYPHS, output_log_place
from agent_tui.core.states import ActionStatus, GoalStatus, StepStatus
from agent_tui.core.store.views import (
    count_goals,
    goal_detail,
    list_goals,
    usage_by_day,
    usage_totals,
)

if TYPE_CHECKING:
    from agent_tui.core.store import Store

# Each command imports the core modules it runs (control, schedules, spend, the goal requests):
# `ls` and `show` start in the time it takes to load only what they print.

FLAGS = {
    "recipe": "--recipe",
    "text": "TEXT",
    "priority": "--priority",
    "schedule": "--schedule",
    "budget": "--budget-usd",
    "timeout": "--approval-timeout",
}
"""The flag each field of a goal request comes from, to name it in an error."""


def cmd_add(args: argparse.Namespace) -> int:
    from agent_tui.core.llm import choose_model
    from agent_tui.goal_requests import GoalRequest, RequestError, check, submit

    request = GoalRequest(
        recipe=args.recipe,
        text=args.text,
        priority=args.priority,
        schedule=args.schedule,
        budget_usd=args.budget_usd,
        approval_timeout=args.approval_timeout,
        dry_run=args.dry_run,
        review_plan=args.review_plan,
    )
    try:
        check(request)
    except RequestError as exc:
        if exc.field in ("recipe", "text"):
            raise UsageError(
                "give either goal TEXT or --recipe FILE (not both, not neither)"
            ) from None
        raise UsageError(f"{FLAGS[exc.field]}: {exc}") from None
    conf = settings()
    done = submit(open_store(conf), request, max_attempts=conf.retry.max_attempts)
    if done.schedule_id is not None:
        if args.json:
            emit_json({"schedule_id": done.schedule_id, "next_run_at": done.next_run_at})
        else:
            print(
                f"schedule {done.schedule_id}: '{done.title}' runs at '{done.cron}' "
                f"(next {when(done.next_run_at)})"
            )
        return 0
    if args.text:
        choice = choose_model(conf.model, conf.llm.api_base, ollama_url=conf.llm.ollama_url)
        if choice.model is None:
            print(
                f"goal {done.goal_id} waits: {choice.why}. Recipes run without a model.",
                file=sys.stderr,
            )
    if args.json:
        emit_json({"id": done.goal_id})
    else:
        print(done.goal_id)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    store = open_store()
    limit = args.limit or None
    goals = list_goals(store, include_archived=args.all, limit=limit)
    if args.json:
        emit_json(goals)
        return 0
    if not goals:
        print(
            "no goals yet: `agent-tui add --recipe workspace-notes` adds one "
            "(`agent-tui examples` lists the examples)"
        )
        return 0
    rows = []
    for g in goals:
        why = g["wait_reason"] or ("no worker may take it" if g["waits_for"] else None)
        state = g["status"] + (f" ({why})" if why else "")
        cost = (
            "-"
            if not g["model_calls"]
            else ("?" if g["cost_usd"] is None else f"${g['cost_usd']:.2f}")
        )
        rows.append(
            [
                str(g["id"]),
                GLYPHS.get(g["status"], " ") + " " + state,
                f"{g['steps_done']}/{g['steps_total']}",
                str(g["priority"]),
                cost,
                g["title"][:60],
            ]
        )
    print(table(rows, ["ID", "STATUS", "STEPS", "PRI", "COST", "TITLE"]))
    for g in goals:
        if g["waits_for"]:
            print(f"goal {g['id']} {g['waits_for']}")
    if limit is not None and len(goals) == limit:
        total = count_goals(store, include_archived=args.all)
        if total > limit:
            print(f"the newest {limit} of {total:,} goals (--limit 0 lists them all)")
    today = usage_totals(store, "ts >= ?", (start_of_day(time.time()),))
    if today["model_calls"]:
        print(f"today: {today['model_calls']} model call(s), {_tokens(today)}, {_money(today)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from agent_tui.core import control, timeline
    from agent_tui.core.checkpoints import record

    goal_id = parse_goal_id(args.goal)
    store = open_store()
    detail = goal_detail(store, goal_id)
    if detail is None:
        raise control.NoSuchId(f"no goal {goal_id} (see `agent-tui ls`)")
    documents = latest_documents(detail["artifacts"])
    if args.doc is not None:
        return _print_document(goal_id, documents, args.doc, as_json=args.json)
    checkpoints = {
        row["action_id"]: row for row in record.for_goal(store, goal_id) if row["action_id"]
    }
    chart = timeline.build(store, goal_id)
    if args.json:
        detail["gantt"] = timeline.as_json(chart) if chart else None
        detail["checkpoints"] = [
            {**row, "changes": json.loads(row["changes"] or "{}")}
            for row in record.for_goal(store, goal_id)
        ]
        emit_json(detail)
        return 0
    g = detail["goal"]
    print(f"goal {g['id']}: {g['title']}")
    message = g["status_message"] or g["waits_for"]
    state = g["status"] + (f" — {message}" if message else "")
    print(f"  status    {state}")
    print(f"  priority  {g['priority']}   dry run {'on' if g['dry_run'] else 'off'}")
    print(f"  workspace {g['workspace']}")
    if g["model_calls"]:
        print(f"  model     {g['model_calls']} call(s), {_tokens(g)}, {_money(g)}")
    print(f"{'steps:':<53}{'ran':>8} {'waited':>8}")
    spent = {line.step_id: line for line in chart.lines} if chart else {}
    dry = {a["step_id"] for a in detail["actions"] if a["status"] == ActionStatus.DRY_RUN}
    for s in detail["steps"]:
        extra = s["error"] or _step_wait(s, g)
        if s["id"] in dry and s["status"] == StepStatus.COMPLETED:
            extra = "dry run: not executed"
        line = spent.get(s["id"])
        ran = timeline.seconds_text(line.running) if line and line.segments else ""
        waited = timeline.seconds_text(line.waiting) if line and line.waiting >= 0.05 else ""
        print(
            f"  {GLYPHS.get(s['status'], ' ')} {s['key']:<16} {s['status']:<16} "
            f"{s['tool'] or s['kind']:<14} {ran:>8} {waited:>8}  {extra}"
        )
    if chart is not None and any(line.segments for line in chart.lines):
        print("timeline:")
        for text in timeline.render_text(chart, 100):
            print(f"  {text}")
    if detail["actions"]:
        print("actions:")
    for a in detail["actions"]:
        code = "" if a["exit_code"] is None else f" exit {a['exit_code']}"
        status = "dry run: not executed" if a["status"] == ActionStatus.DRY_RUN else a["status"]
        print(f"  #{a['id']} {a['step']}: {status}{code} — {a['preview']}")
        for text in excerpt(a["output"].rstrip().splitlines()):
            print(f"      {text}")
        kept = len(a["output"].encode("utf-8"))
        if a["output_log"] and kept < a["output_bytes"]:
            place = output_log_place(a["output_log"]["host"], a["output_log"]["path"], "")
            print(f"      (the last {kept} of {a['output_bytes']} bytes; all of it: {place})")
        if (cp := checkpoints.get(a["id"])) is not None and cp["files"]:
            for text in record.describe(cp).splitlines():
                print(f"    {text}")
    for art in documents:
        print(f"\ndocument: {art['name']} (version {art['version']}, {len(art['content'])} chars)")
        for text in art["content"].strip("\n").splitlines():
            print(f"  {text}")
    if getattr(args, "transcript", False):
        _print_conversations(detail["conversations"])
    elif detail["conversations"]:
        print(f"conversations: {len(detail['conversations'])} (--transcript shows them)")
    pending = [a for a in detail["approvals"] if a["status"] == "pending"]
    for ap in pending:
        print(f"approval {ap['id']} pending: {ap['title']}  (agent-tui approve {ap['id']})")
    return 0


def _step_wait(step: dict[str, Any], goal: dict[str, Any]) -> str:
    """Why a step is not running, in words that match what the user can do about it."""
    reason = step["wait_reason"]
    if not reason:
        return ""
    if reason in ("resume", "approved") and step["status"] == StepStatus.READY:
        if goal["status"] == GoalStatus.WAITING:
            return f"held while the goal waits ({goal['wait_reason']}); see the goal's status"
        if goal["status"] == GoalStatus.PAUSED:
            return "held while the goal is paused (`agent-tui resume`)"
        return "ready to go on"
    return f"waiting: {reason}"


def _print_conversations(conversations: list[dict[str, Any]]) -> None:
    from agent_tui.core import transcript

    if not conversations:
        print("no conversation with a model")
    for talk in conversations:
        print(
            f"conversation of step '{talk['step']}' ({talk['kind']}, plan v{talk['plan_version']}):"
        )
        for line in transcript.render(talk["messages"]):
            print(f"  {line}")


HEAD_LINES = 8
TAIL_LINES = 8


def excerpt(lines: list[str]) -> list[str]:
    """The first and last lines of an output, with a note of what is left out between them.

    The head is kept because a command's first lines are often a table's header.
    """
    if len(lines) <= HEAD_LINES + TAIL_LINES + 1:
        return lines
    left_out = len(lines) - HEAD_LINES - TAIL_LINES
    return [
        *lines[:HEAD_LINES],
        f"… ({left_out} lines left out; --json has them all)",
        *lines[-TAIL_LINES:],
    ]


def latest_documents(artifacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest version of each document, in the order they were first written."""
    latest: dict[str, dict[str, Any]] = {}
    for art in artifacts:
        if art["name"] not in latest or art["version"] > latest[art["name"]]["version"]:
            latest[art["name"]] = art
    return list(latest.values())


def _print_document(
    goal_id: int, documents: list[dict[str, Any]], name: str, *, as_json: bool
) -> int:
    """``show GOAL --doc NAME``: one document's text, nothing else (for a pipe or a file)."""
    from agent_tui.core import control

    matches = [d for d in documents if d["name"] == name] or [
        d for d in documents if d["name"].lower() == name.lower()
    ]
    if not matches:
        names = ", ".join(repr(d["name"]) for d in documents) or "none yet"
        raise control.NoSuchId(f"goal {goal_id} has no document {name!r} (documents: {names})")
    if as_json:
        emit_json(matches[0])
    else:
        sys.stdout.write(matches[0]["content"].rstrip("\n") + "\n")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    from agent_tui.core import control

    store = open_store()
    if args.all:
        control.set_global_pause(store, True)
        print("all work paused: no step starts until `agent-tui resume --all`")
    elif args.goal:
        running = control.pause_goal(store, parse_goal_id(args.goal))
        print(f"goal {args.goal} paused: no new step starts")
        if running:
            print(
                f"{running} running step(s) finish first; `agent-tui cancel {args.goal}` kills them"
            )
    else:
        raise UsageError("give a GOAL id or --all")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from agent_tui.core import control

    store = open_store()
    if args.all:
        control.set_global_pause(store, False)
        print("work resumed")
    elif args.goal:
        control.resume_goal(store, parse_goal_id(args.goal))
        print(f"goal {args.goal} resumed")
    else:
        raise UsageError("give a GOAL id or --all")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from agent_tui.core import control

    n = control.cancel_goal(open_store(), parse_goal_id(args.goal))
    print(f"goal {args.goal} cancelled ({n} open steps cancelled)")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from agent_tui.core import control

    raw = args.target
    goal_part, _, step_key = raw.partition(":")
    n = control.retry(open_store(), parse_goal_id(goal_part), step_key or None)
    print(f"{n} step(s) of goal {goal_part} will run again")
    return 0


def cmd_schedules(args: argparse.Namespace) -> int:
    from agent_tui.core import control, schedules
    from agent_tui.core.store import schedules as stored

    store = open_store()
    if args.remove is not None:
        with store.write() as tx:
            if not stored.remove(tx, args.remove):
                raise control.NoSuchId(f"no schedule {args.remove}")
            tx.event("schedule.removed", f"schedule {args.remove} removed")
        print(f"schedule {args.remove} removed")
        return 0
    if args.pause is not None or args.resume is not None or args.run_now is not None:
        return _change_schedule(store, args)
    columns = (
        *("id", "title", "cron", "enabled", "next_run_at", "last_run_at", "last_goal_id"),
        *("last_status", "failure_streak", "recipe_path"),
    )
    rows = [{k: row[k] for k in columns} for row in stored.listing(store)]
    for row in rows:
        row["enabled"] = bool(row["enabled"])
        row["last_error"] = (
            schedules.last_skip(store, row["id"]) if row["last_status"] == "skipped" else None
        )
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("no schedules: `agent-tui add --recipe FILE --schedule '0 9 * * 1'` adds one")
        return 0
    print(
        table(
            [
                [
                    str(r["id"]),
                    r["cron"],
                    when(r["next_run_at"]) if r["enabled"] else "paused",
                    when(r["last_run_at"]),
                    r["last_status"] or "-",
                    str(r["failure_streak"]),
                    r["title"][:40],
                ]
                for r in rows
            ],
            ["ID", "CRON", "NEXT", "LAST", "LAST STATUS", "FAILS", "TITLE"],
        )
    )
    for r in rows:
        if r["last_error"]:
            print(f"schedule {r['id']}: last run skipped: {r['last_error']}")
    return 0


def _change_schedule(store: Store, args: argparse.Namespace) -> int:
    """``--pause``, ``--resume`` or ``--run-now``: one line saying what happened (a
    :class:`schedules.ScheduleError` is one error line, exit 1)."""
    from agent_tui.core import schedules

    if args.pause is not None:
        schedules.pause(store, args.pause)
        print(f"schedule {args.pause} paused (`--resume {args.pause}` to fire again)")
    elif args.resume is not None:
        upcoming = schedules.resume(store, args.resume)
        print(f"schedule {args.resume} resumed (next {when(upcoming)})")
    else:
        goal_id = schedules.run_now(store, args.run_now, max_attempts=settings().retry.max_attempts)
        if args.json:
            emit_json({"id": goal_id})
        else:
            print(goal_id)
    return 0


def cmd_dry_run(args: argparse.Namespace) -> int:
    from agent_tui.core import control

    store = open_store()
    if args.state is not None:
        control.set_global_dry_run(store, args.state == "on")
    state = "on" if store.setting("dry_run", False) else "off"
    print(
        f"dry run {state}"
        + (": side-effecting tools are recorded, never run" if state == "on" else "")
    )
    return 0


def _money(figures: dict[str, Any]) -> str:
    """The cost of some model calls: exact, at least the known part, or unknown."""
    if figures["cost_usd"] is not None:
        return f"${figures['cost_usd']:.4f}"
    unknown = figures["model_calls"] - figures["cost_calls_known"]
    if not figures["cost_calls_known"]:
        return "cost unknown"
    return f"≥ ${figures['cost_usd_known']:.4f} (the cost of {unknown} call(s) is unknown)"


def _tokens(figures: dict[str, Any]) -> str:
    total = figures["prompt_tokens"] + figures["completion_tokens"]
    return f"about {total} tokens (estimated)" if figures["tokens_estimated"] else f"{total} tokens"


def cmd_usage(args: argparse.Namespace) -> int:
    """Cost and tokens per day and per goal as bar charts, and today's spend against the budget."""
    from agent_tui.core import spend

    store = open_store()
    days = usage_by_day(store, max(1, args.days))
    daily = settings().budget.daily_usd
    now = spend.today(store)
    if args.json:
        emit_json(
            {
                "days": days,
                "goals": [vars(g) for g in spend.by_goal(store, 20)],
                "today": vars(now),
                "daily_budget_usd": daily,
            }
        )
        return 0
    if not days:
        print("no model calls yet")
        return 0
    print(
        table(
            [
                [
                    d["day"],
                    str(d["model_calls"]),
                    str(d["prompt_tokens"]),
                    str(d["completion_tokens"]),
                    _money(d),
                ]
                for d in days
            ],
            ["DAY", "CALLS", "PROMPT", "COMPLETION", "COST"],
        )
    )
    print(f"per day (last {args.days}):")
    for line in spend.chart(spend.by_day(store, max(1, args.days)), label_width=10):
        print(f"  {line}")
    print("per goal (the most expensive):")
    for line in spend.chart(spend.by_goal(store, 10)):
        print(f"  {line}")
    print(spend.budget_line(now, daily))
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from agent_tui.core import control

    control.archive_goal(open_store(), parse_goal_id(args.goal))
    print(f"goal {args.goal} archived")
    return 0
