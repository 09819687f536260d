"""``agent-tui undo GOAL[:STEP]`` and ``agent-tui changes GOAL``: checkpoints from the command line."""

from __future__ import annotations

import argparse
import sys

from agent_tui.commands.common import UsageError, emit_json, open_store, parse_goal_id
from agent_tui.core import display


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="GOAL[:STEP]")
    p.add_argument("--yes", action="store_true", help="undo without asking (the plan is printed)")
    p.add_argument(
        "--force", action="store_true", help="also undo files changed since by someone else"
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON and change nothing")


def cmd_undo(args: argparse.Namespace) -> int:
    from agent_tui.core.checkpoints.undo import UndoError, UndoTargetMissing, apply_undo, plan_undo
    from agent_tui.core.control import NoSuchId

    goal_part, _, step_key = args.target.partition(":")
    store = open_store()
    try:
        plan = plan_undo(store, parse_goal_id(goal_part), step_key or None)
    except UndoTargetMissing as exc:
        raise NoSuchId(str(exc)) from None
    except UndoError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        emit_json(
            {
                "goal_id": plan.goal_id,
                "step_id": plan.step_id,
                "workspace": plan.workspace,
                "checkpoints": list(plan.checkpoints),
                "files": [
                    {"path": i.path, "action": i.action, "conflict": i.conflict} for i in plan.items
                ],
            }
        )
        return 0
    print(plan.describe())
    if plan.conflicts and not args.force:
        raise UsageError(
            f"{len(plan.conflicts)} file(s) changed since the checkpoint; nothing was undone "
            "(add --force to overwrite them)"
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("undo changes files: add --yes to confirm (the plan is above)")
        answer = input("Undo these changes? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing was undone")
            return 1
    try:
        undo_id = apply_undo(store, plan, force=args.force, by="cli")
    except UndoError as exc:
        raise UsageError(str(exc)) from None
    from agent_tui.core.store import checkpoints

    row = checkpoints.checkpoint(store, undo_id)
    assert row is not None
    print(
        f"undone: {display.changes_summary(row['files'], row['added'], row['removed'])}"
        f" (checkpoint {undo_id}; `agent-tui undo {plan.goal_id}` again puts it back)"
    )
    return 0
