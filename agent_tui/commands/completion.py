"""``agent-tui completion bash|zsh|fish``: a completion script generated from the CLI's own parser.

shtab turns the argparse parser into the script, so new commands and options complete without a
second list to keep. Goal and approval ids complete from the database: the script runs the hidden
``agent-tui completion --ids goals|approvals``, which reads the database read-only, prints one id
per line, and prints nothing (never an error) when there is no database yet.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from agent_tui import paths
from agent_tui.core.store import ids as store_ids
from agent_tui.core.store.ids import ID_QUERIES

SHELLS = ("bash", "zsh", "fish")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell to complete in")
    parser.add_argument("--ids", choices=sorted(ID_QUERIES), help=argparse.SUPPRESS)


def ids(kind: str) -> list[str]:
    """The ids of ``kind`` in the database, or none if it cannot be read (missing, locked, old)."""
    return store_ids.ids(store_url() or paths.db_path(), kind)


def store_url() -> str | None:
    """``[store] url`` from the environment or the config file, read without loading the
    settings (completion must answer in a blink); ``None`` for the SQLite file."""
    import os
    import tomllib

    url = os.environ.get(paths.STORE_URL_ENV) or os.environ.get("AGENT_TUI_STORE__URL")
    if url:
        return url
    try:
        data = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    value = data.get("store", {}).get("url") if isinstance(data.get("store"), dict) else None
    return value if isinstance(value, str) and value else None


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every action of ``parser`` and of its subcommands, recursively."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _actions(sub)


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell``.

    Arguments carry their kind of value in a ``completes`` attribute set where the parser is
    built (``goals``, ``approvals``, ``file``, ``dir``); it becomes shtab's ``complete`` here, so
    building the parser never imports shtab.
    """
    import shtab

    kinds = {
        "file": shtab.FILE,
        "dir": shtab.DIRECTORY,
        **{
            kind: shtab.cmd(f"agent-tui completion --ids {kind} 2>/dev/null") for kind in ID_QUERIES
        },
    }
    for action in _actions(parser):
        kind = getattr(action, "completes", None)
        if kind is not None:
            action.complete = kinds[kind]  # type: ignore[attr-defined]
    return str(shtab.complete(parser, shell=shell))


def cmd_completion(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the script for ``args.shell`` from ``parser`` (the CLI's, which it passes in: commands
    never import the CLI), or the ids ``--ids`` asks for."""
    from agent_tui.commands.common import UsageError

    if args.ids:
        for value in ids(args.ids):
            print(value)
        return 0
    if not args.shell:
        raise UsageError(f"completion for which shell? one of: {', '.join(SHELLS)}")
    print(script(parser, args.shell))
    return 0
