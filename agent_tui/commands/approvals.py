"""``approvals``, ``approve ID [ID ...]`` or ``approve --goal GOAL``, ``reject ID``."""

from __future__ import annotations

import argparse
import sys

from agent_tui.commands.common import (
    EXIT_ERROR,
    UsageError,
    emit_json,
    open_store,
    parse_goal_id,
    when,
)
from agent_tui.core import control
from agent_tui.core.store import Store, panes
from agent_tui.core.store.views import pending_approvals


def cmd_approvals(args: argparse.Namespace) -> int:
    items = pending_approvals(open_store())
    if args.json:
        emit_json(items)
        return 0
    if not items:
        print("no pending approvals")
        return 0
    for item in items:
        print(
            f"approval {item['id']}  goal {item['goal_id']} '{item['goal_title']}'"
            f"  step {item['step']}  ({item['kind']}, since {when(item['created_at'])})"
        )
        if item.get("decision_reason") and item["kind"] == "action":
            print(f"    why asked: {item['decision_reason']}")
        for line in (item["detail"] or "").splitlines() or [""]:
            print(f"    {line}")
        if item["kind"] == "unknown" and ", still running (pid" in item["title"]:
            print(f"    decide: agent-tui approve {item['id']} --choice wait|mark_done|skip")
        elif item["kind"] == "unknown":
            print(f"    decide: agent-tui approve {item['id']} --choice run_again|mark_done|skip")
        else:
            print(
                f"    decide: agent-tui approve {item['id']}   or   agent-tui reject "
                f"{item['id']} --reason TEXT"
            )
    goals = sorted({int(item["goal_id"]) for item in items})
    print(
        "all of a goal at once: "
        + "   ".join(f"agent-tui approve --goal {goal_id}" for goal_id in goals[:3])
    )
    return 0


def _approval_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"'{raw}' is not an approval id (see `agent-tui approvals`)") from None


def _confirm(question: str, refuse: str) -> bool:
    """Ask on a terminal; without one the command needs ``--yes`` (``refuse`` says so)."""
    if not sys.stdin.isatty():
        raise UsageError(refuse)
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _goal_items(store: Store, raw: str) -> list[dict[str, object]]:
    goal_id = parse_goal_id(raw)
    if panes.goal_status(store, goal_id) is None:
        raise control.NoSuchId(f"no goal {goal_id} (see `agent-tui ls`)")
    return [i for i in pending_approvals(store) if i["goal_id"] == goal_id]


def cmd_approve(args: argparse.Namespace) -> int:
    store = open_store()
    if args.goal is not None and args.id:
        raise UsageError("give approval IDs or --goal GOAL, not both")
    if args.goal is None and not args.id:
        raise UsageError("give one or more approval IDs, or --goal GOAL")
    if args.always and (args.goal is not None or len(args.id) > 1):
        raise UsageError("--always saves a rule from one approval: give exactly one ID")
    if args.goal is not None:
        items = _goal_items(store, args.goal)
        if not items:
            print(f"goal {args.goal}: no pending approvals")
            return 0
        print(f"goal {args.goal}: {len(items)} pending approval(s):")
        for item in items:
            detail = " ".join(str(item["detail"] or item["title"]).split())
            print(f"  {item['id']}  {item['step'] or '-'}  {detail[:100]}")
        if not args.yes and not _confirm(
            f"approve all {len(items)}?", "--goal approves every action listed above: add --yes"
        ):
            print("nothing approved")
            return 1
        ids = [int(str(item["id"])) for item in items]
    else:
        ids = [_approval_id(raw) for raw in args.id]
    proposal = None
    if args.always:
        proposal = control.always_allow_proposal(store, ids[0])
        print(f"rule: {proposal.spec.describe()}\nit allows {proposal.description}")
        if not args.yes and not _confirm(
            "save this rule and approve?", "--always saves the rule above: add --yes to confirm"
        ):
            print("nothing saved, nothing approved")
            return 1
    failed = 0
    for approval_id in ids:
        try:
            outcome = control.approve(
                store, approval_id, choice=args.choice, by="cli", always=proposal
            )
        except control.ControlError as exc:
            if len(ids) == 1:
                raise
            failed += 1
            print(f"agent-tui: error: {exc}", file=sys.stderr)
            continue
        print(f"approval {approval_id}: {outcome}")
    return EXIT_ERROR if failed else 0


def cmd_reject(args: argparse.Namespace) -> int:
    control.reject(open_store(), _approval_id(args.id), reason=args.reason, by="cli")
    print(f"approval {args.id}: rejected")
    return 0
