"""``rules`` lists the policy rules (config and stored); ``rules rm ID`` deletes a stored one.

Runnable on its own as ``python -m agent_tui.commands.rules [--json] | rm ID``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from agent_tui.commands.common import (
    EXIT_NO_SUCH_ID,
    UsageError,
    emit_json,
    open_store,
    settings,
    table,
    when,
)

if TYPE_CHECKING:
    from agent_tui.core.rules import Rule

DESCRIPTION = "list the policy rules (config and stored); `rules rm ID` deletes a stored one"


def all_rules() -> list[Rule]:
    """Config rules in file order, then stored rules by id: the order decisions consult them."""
    from agent_tui.core.rules import config_rules, load_rules

    conf = settings()
    return [*config_rules(conf), *load_rules(open_store(conf))]


def cmd_rules(args: argparse.Namespace) -> int:
    rules = all_rules()
    if args.json:
        emit_json([rule.as_dict() for rule in rules])
        return 0
    if not rules:
        print("no rules: every action gets its tool's default (see `agent-tui doctor`)")
        return 0
    rows = [
        [
            str(rule.id) if rule.id is not None else f"config {rule.index}",
            rule.tool,
            rule.matcher,
            rule.pattern.replace("\n", "\\n"),
            rule.decision,
            rule.source,
            when(rule.created_at),
        ]
        for rule in rules
    ]
    print(table(rows, ["ID", "TOOL", "MATCHER", "PATTERN", "DECISION", "SOURCE", "ADDED"]))
    if any(rule.id is None for rule in rules):
        print(
            "\nconfig rules are changed in the config file ([[policy.rules]]);"
            " `agent-tui rules rm ID` removes the others"
        )
    return 0


def cmd_rules_rm(args: argparse.Namespace) -> int:
    from agent_tui.core.control import NoSuchId
    from agent_tui.core.rules import remove_rule
    from agent_tui.core.store import rules as stored_rules

    raw = str(args.id).strip()
    if raw.lower().startswith("config"):
        raise UsageError(
            f"'{raw}' comes from the config file: remove it from [[policy.rules]] there"
        )
    try:
        rule_id = int(raw)
    except ValueError:
        raise UsageError(
            f"'{raw}' is not a rule id (a number, as `agent-tui rules` shows)"
        ) from None
    store = open_store()
    if not stored_rules.exists(store, rule_id):
        raise NoSuchId(
            f"no stored rule {rule_id} (see `agent-tui rules`; rules from the config file "
            "are removed by editing its [[policy.rules]])"
        )
    rule = remove_rule(store, rule_id)
    print(f"removed {rule.reason}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``rules`` options: ``--json``, or the ``rm ID`` subcommand."""
    parser.add_argument("--json", action="store_true")
    sub = parser.add_subparsers(dest="rules_command", title="commands", metavar="rm ID")
    rm = sub.add_parser("rm", help="delete a stored rule", description="delete a stored rule")
    rm.add_argument("id", help="the rule id, as `agent-tui rules` shows")


def run(args: argparse.Namespace) -> int:
    """Dispatch ``rules`` or ``rules rm``."""
    if getattr(args, "rules_command", None) == "rm":
        return cmd_rules_rm(args)
    return cmd_rules(args)


def main(argv: list[str] | None = None) -> int:
    from agent_tui.config import ConfigError
    from agent_tui.core.control import NoSuchId
    from agent_tui.core.rules import RuleError
    from agent_tui.core.store import StoreError

    parser = argparse.ArgumentParser(prog="agent-tui rules", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"agent-tui: error: {exc}", file=sys.stderr)
        return 2
    except NoSuchId as exc:
        print(f"agent-tui: error: {exc}", file=sys.stderr)
        return EXIT_NO_SUCH_ID
    except (ConfigError, StoreError, RuleError) as exc:
        print(f"agent-tui: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
