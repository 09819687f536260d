"""``approvals``, ``approve ID``, ``reject ID``."""

from __future__ import annotations

import argparse
import sys

from agent_tui.commands.common import UsageError, emit_json, open_store, when
from agent_tui.core import control
from agent_tui.core.views import pending_approvals


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
        if item["kind"] == "unknown":
            print(f"    decide: agent-tui approve {item['id']} --choice run_again|mark_done|skip")
        else:
            print(
                f"    decide: agent-tui approve {item['id']}   or   agent-tui reject "
                f"{item['id']} --reason TEXT"
            )
    return 0


def _approval_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"'{raw}' is not an approval id (see `agent-tui approvals`)") from None


def cmd_approve(args: argparse.Namespace) -> int:
    store = open_store()
    approval_id = _approval_id(args.id)
    proposal = None
    if args.always:
        proposal = control.always_allow_proposal(store, approval_id)
        print(f"rule: {proposal.spec.describe()}\nit allows {proposal.description}")
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("--always saves the rule above: add --yes to confirm")
            if input("save this rule and approve? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing saved, nothing approved")
                return 1
    outcome = control.approve(store, approval_id, choice=args.choice, by="cli", always=proposal)
    print(f"approval {args.id}: {outcome}")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    control.reject(open_store(), _approval_id(args.id), reason=args.reason, by="cli")
    print(f"approval {args.id}: rejected")
    return 0
