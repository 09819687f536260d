"""The ``agent-tui`` command: the TUI by default, and a scriptable headless CLI.

The UI is imported only for the commands that need it, so ``agent-tui worker --help`` loads no
Textual. Every user mistake ends in one ``agent-tui: error: ...`` line and an exit code: 2 (usage), 4
(no such id) or 1 (any other error); see ``commands.common`` for all of them.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from agent_tui import __version__, paths


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of agent-tui."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"agent-tui: error: {message} (see `{self.prog} --help`)\n")


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


LOG_LEVELS = ("debug", "info", "warning", "error")


def _mark(action: argparse.Action, kind: str) -> argparse.Action:
    """Say what an argument's values are, for the completion scripts (goals, approvals, file, dir)."""
    action.completes = kind  # type: ignore[attr-defined]
    return action


def _mark_dest(parser: argparse.ArgumentParser, dest: str, kind: str) -> None:
    for action in parser._actions:
        if action.dest == dest:
            _mark(action, kind)


def _common_options() -> _Parser:
    """Options every command takes, before or after its name.

    Their default is "not given" (``SUPPRESS``), so a subcommand's parser never overwrites a value
    given before the command's name.
    """
    common = _Parser(add_help=False)
    _mark(
        common.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="the config file to use (default: `agent-tui locate config`; or AGENT_TUI_CONFIG)",
        ),
        "file",
    )
    common.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="what goes to the log file (default: [log] level in the config, else info)",
    )
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common_options()
    p = _Parser(
        prog="agent-tui",
        description="Mission control for autonomous LLM agents. With no command, opens the TUI.",
        parents=[common],
    )
    p.add_argument("--version", action="version", version=f"agent-tui {__version__}")
    p.add_argument(
        "--no-executor",
        action="store_true",
        help="open the TUI as a viewer: another process runs the work",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common])

    a = cmd("add", "add a goal from free text or a recipe file")
    a.add_argument("text", nargs="?", help="what you want done, in words")
    _mark(
        a.add_argument(
            "--recipe",
            metavar="FILE|NAME",
            help="a recipe (TOML) with explicit steps, or an example's name (`agent-tui examples`)",
        ),
        "file",
    )
    a.add_argument("--priority", type=int, metavar="N", help="1 (low) to 10 (high); default 5")
    a.add_argument("--schedule", metavar="CRON", help="run the recipe at these times instead")
    a.add_argument("--dry-run", action="store_true", help="record side effects, run none")
    a.add_argument(
        "--review-plan",
        action="store_true",
        help="put the model's plan in the approvals queue before anything runs",
    )
    a.add_argument(
        "--budget-usd", type=float, metavar="USD", help="money this goal may spend on model calls"
    )
    a.add_argument(
        "--approval-timeout",
        metavar="WAIT|DURATION",
        help="'wait' (the default) or a duration such as 30m after which a pending approval "
        "is denied",
    )
    a.add_argument("--json", action="store_true")

    ls = cmd("ls", "list goals")
    ls.add_argument("--all", action="store_true", help="include archived goals")
    ls.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="only the newest N goals (default 50; 0 lists every goal)",
    )
    ls.add_argument("--json", action="store_true")

    sh = cmd("show", "show one goal: steps, actions with output, documents, events")
    _mark(sh.add_argument("goal"), "goals")
    sh.add_argument(
        "--doc", metavar="NAME", help="print only this document's text (its latest version)"
    )
    sh.add_argument("--json", action="store_true")
    sh.add_argument(
        "--transcript",
        action="store_true",
        help="also print the conversations with the model, message by message",
    )

    ap = cmd("approvals", "list pending approvals with exactly what would run")
    ap.add_argument("--json", action="store_true")
    ok = cmd("approve", "approve pending approvals: ID ..., or every pending action of --goal")
    _mark(ok.add_argument("id", nargs="*", metavar="ID"), "approvals")
    _mark(
        ok.add_argument(
            "--goal",
            metavar="GOAL",
            help="every pending action of this goal (listed first; --yes skips the question)",
        ),
        "goals",
    )
    ok.add_argument(
        "--choice",
        choices=["wait", "run_again", "mark_done", "skip"],
        help="for an interrupted action: run it again, mark it done, or skip it (wait: its "
        "command still runs; leave the question open until it ends)",
    )
    ok.add_argument(
        "--always",
        action="store_true",
        help="also save a rule that allows such actions from now on (shown first)",
    )
    ok.add_argument(
        "--yes", action="store_true", help="with --always or --goal: go ahead without asking"
    )
    no = cmd("reject", "reject a pending approval (the action never runs)")
    _mark(no.add_argument("id"), "approvals")
    no.add_argument("--reason", help="why; recorded and shown")

    for name, text in (("pause", "pause a goal, or all work"), ("resume", "resume a goal or all")):
        pr = cmd(name, text)
        _mark(pr.add_argument("goal", nargs="?"), "goals")
        pr.add_argument("--all", action="store_true", help="every goal (the global pause)")
    ca = cmd("cancel", "cancel a goal and kill its running actions")
    _mark(ca.add_argument("goal"), "goals")
    ar = cmd("archive", "hide a finished goal from the lists (`ls --all` still shows it)")
    _mark(ar.add_argument("goal"), "goals")
    rt = cmd("retry", "run failed or cancelled steps again: GOAL or GOAL:STEP")
    _mark(rt.add_argument("target", metavar="GOAL[:STEP]"), "goals")

    ud = cmd("undo", "undo what a goal (or GOAL:STEP) changed in its workspace, shown first")
    from agent_tui.commands.undo import add_arguments as undo_arguments

    undo_arguments(ud)

    dr_ = cmd("dry-run", "show or set the global dry run (side effects recorded, never run)")
    dr_.add_argument("state", nargs="?", choices=["on", "off"])

    ru = cmd("rules", "list policy rules (config and stored); `rules rm ID` deletes a stored one")
    from agent_tui.commands.rules import add_arguments as rules_arguments

    rules_arguments(ru)

    us = cmd("usage", "model calls, tokens and cost per day and per goal, against the daily budget")
    us.add_argument("--days", type=int, default=7, metavar="N")
    us.add_argument("--json", action="store_true")

    sc = cmd("schedules", "list cron schedules (last run, next run, failure streak)")
    sc.add_argument("--json", action="store_true")
    what = sc.add_mutually_exclusive_group()
    what.add_argument("--remove", type=int, metavar="ID", help="delete a schedule")
    what.add_argument("--pause", type=int, metavar="ID", help="stop a schedule firing")
    what.add_argument(
        "--resume", type=int, metavar="ID", help="fire a paused schedule again (streak cleared)"
    )
    what.add_argument(
        "--run-now", type=int, metavar="ID", help="start a run now; the next time is unchanged"
    )

    wk = cmd("worker", "run the executor headless")
    wk.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once nothing is ready, running or waiting to retry",
    )
    wk.add_argument("--max-parallel", type=int, metavar="N", help="steps at once")
    wk.add_argument(
        "--labels",
        metavar="A,B",
        help="what this host offers: goals whose recipe says runs_on one of them run here",
    )
    wk.add_argument("--output", action="store_true", help="also print the tools' output")

    sv = cmd("serve", "the app in a browser: one executor, one viewer per tab, behind a token")
    from agent_tui.commands.serve import add_arguments as serve_arguments

    serve_arguments(sv)

    ex = cmd("export", "a goal as Markdown and JSON: plan, timeline, outputs, documents, cost")
    from agent_tui.commands.export import add_arguments as export_arguments

    export_arguments(ex)
    _mark_dest(ex, "goal", "goals")
    _mark_dest(ex, "out", "dir")

    eg = cmd("examples", "list the example recipes and sample themes, or copy them out")
    from agent_tui.commands.examples import add_arguments as examples_arguments

    examples_arguments(eg)
    _mark_dest(eg, "copy", "dir")

    co = cmd("completion", "print a shell completion script: bash, zsh or fish")
    from agent_tui.commands.completion import add_arguments as completion_arguments

    completion_arguments(co)

    se = cmd("search", "full-text search over goals, outputs, transcripts and documents")
    from agent_tui.commands.search import add_arguments as search_arguments

    search_arguments(se)

    ks = cmd("keys", "list the TUI's keys by binding id (remap them in [keys] of config.toml)")
    ks.add_argument("--json", action="store_true")

    va = cmd("vacuum", "give the database's free pages (what retention pruned) back to the disk")
    from agent_tui.commands.vacuum import add_arguments as vacuum_arguments

    vacuum_arguments(va)

    mi = cmd("migrate", "copy the SQLite database to a PostgreSQL server (--to postgresql://…)")
    from agent_tui.commands.migrate import add_arguments as migrate_arguments

    migrate_arguments(mi)

    dr = cmd("doctor", "check paths, config, database, model and tools")
    dr.add_argument("--json", action="store_true")
    lo = cmd("locate", "print where agent-tui keeps a file or folder")
    lo.add_argument(
        "what", nargs="?", help="config | data | db | themes | log | outputs | workspaces"
    )
    return p


GOAL_COMMANDS = (
    "add",
    "ls",
    "show",
    "pause",
    "resume",
    "cancel",
    "retry",
    "schedules",
    "archive",
    "dry-run",
    "usage",
)


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs ``command``; every name the parser knows has one here."""
    if command in GOAL_COMMANDS:
        from agent_tui.commands import goals

        return getattr(goals, f"cmd_{command.replace('-', '_')}")
    if command in ("approvals", "approve", "reject"):
        from agent_tui.commands import approvals

        return getattr(approvals, f"cmd_{command}")
    if command == "undo":
        from agent_tui.commands.undo import cmd_undo

        return cmd_undo
    if command == "rules":
        from agent_tui.commands.rules import run

        return run
    if command == "serve":
        from agent_tui.commands.serve import cmd_serve

        return cmd_serve
    if command == "export":
        from agent_tui.commands.export import cmd_export

        return cmd_export
    if command == "examples":
        from agent_tui.commands.examples import cmd_examples

        return cmd_examples
    if command == "completion":
        from agent_tui.commands.completion import cmd_completion

        return lambda args: cmd_completion(args, _parser())
    if command == "worker":
        from agent_tui.commands.worker import cmd_worker

        return cmd_worker
    if command == "search":
        from agent_tui.commands.search import cmd_search

        return cmd_search
    if command == "keys":
        from agent_tui.ui.keymap import cmd_keys

        return cmd_keys

    if command == "vacuum":
        from agent_tui.commands.vacuum import cmd_vacuum

        return cmd_vacuum
    if command == "migrate":
        from agent_tui.commands.migrate import cmd_migrate

        return cmd_migrate
    if command in ("doctor", "locate"):
        from agent_tui.commands import doctor

        return getattr(doctor, f"cmd_{command}")
    raise AssertionError(f"no handler for the command {command!r}")


LONG_RUNNING = ("worker", "serve")
"""Commands that run until stopped: the cyclic garbage collector is back on before they start."""


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names (default: this process's arguments); return its exit code.

    The cyclic garbage collector is off while the process starts: importing the config, the
    database and Textual allocates hundreds of thousands of objects and frees almost none, and
    the collections that set off cost a fifth of the TUI's first frame. A command that ends soon
    runs without it (reference counting still frees what it drops); the TUI turns it back on
    after its first frame, ``worker`` and ``serve`` before they start. Called with ``argv`` (from
    another program, or a test), ``main`` leaves the collector as it found it; without, it is
    the process's own command line, and the process ends when it returns: turning the collector
    back on would only make the exit collect everything once more.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(argv, collecting)
    finally:
        if collecting and argv is not None:
            gc.enable()


def _run(argv: list[str] | None, collecting: bool) -> int:
    args = _parser().parse_args(argv)
    if config := getattr(args, "config", None):
        # In the environment, so serve's tab processes and any other child read the same file.
        os.environ[paths.CONFIG_ENV] = str(Path(config).expanduser().absolute())
    if args.command != "completion":  # runs on every tab press: stays light
        from agent_tui import logs

        logs.setup(getattr(args, "log_level", None))
    try:
        if args.command != "completion":
            from agent_tui.config import check_named_config

            check_named_config()
        if args.command is None:
            from agent_tui.ui.run import run_app

            return run_app(executor=not args.no_executor, collect_after_first_frame=collecting)
        if args.command in LONG_RUNNING and collecting:
            gc.enable()
        return _handler(args.command)(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        return _failed(exc)


def _failed(exc: Exception) -> int:
    """Say what went wrong in one line and return the exit code (see ``commands.common``).

    The error classes are imported here, not before the command runs: ``--version``, ``--help`` and
    ``completion`` load none of the modules that define them.
    """
    from agent_tui.commands.common import EXIT_NO_SUCH_ID, UsageError
    from agent_tui.config import ConfigError
    from agent_tui.core.control import ControlError, NoSuchId
    from agent_tui.core.recipes import RecipeError
    from agent_tui.core.store import StoreError

    if isinstance(exc, UsageError):
        print(f"agent-tui: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    if isinstance(exc, NoSuchId):
        print(f"agent-tui: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_NO_SUCH_ID
    if isinstance(exc, ConfigError | StoreError | RecipeError | ControlError | ValueError):
        print(f"agent-tui: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    if isinstance(exc, sqlite3.DatabaseError):
        print(f"agent-tui: error: database {paths.db_path()}: {exc}", file=sys.stderr)
        return 1
    logging.getLogger("agent_tui").exception("unexpected error", exc_info=exc)
    print(
        f"agent-tui: internal error: {type(exc).__name__}: {exc} (details in {paths.log_file()})",
        file=sys.stderr,
    )
    return 70


if __name__ == "__main__":
    sys.exit(main())
