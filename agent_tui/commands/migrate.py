"""``agent-tui migrate --to postgresql://…``: copy the SQLite database to a PostgreSQL server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent_tui.commands.common import emit_json, settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to", required=True, metavar="URL", help="the PostgreSQL database: postgresql://…"
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="the SQLite database to copy (default: the data directory's)",
    )
    parser.add_argument("--json", action="store_true")


def cmd_migrate(args: argparse.Namespace) -> int:
    from agent_tui import paths
    from agent_tui.core.store import StoreError, open_store
    from agent_tui.core.store.copy import copy_database

    if not args.to.startswith(("postgresql://", "postgres://")):
        print("agent-tui migrate: --to must be a postgresql:// url", file=sys.stderr)
        return 2
    source_path = Path(args.source) if args.source else paths.db_path()
    if not source_path.is_file():
        print(f"agent-tui migrate: no database at {source_path}", file=sys.stderr)
        return 4
    conf = settings()
    source = open_store(conf, source_path)
    try:
        target = open_store(conf, args.to)
    except StoreError:
        source.close()
        raise
    shown = target.shown

    def progress(table: str, rows: int) -> None:
        if not args.json:
            print(f"\r  {table}: {rows} rows", end="", file=sys.stderr, flush=True)

    try:
        copied = copy_database(source, target, progress=progress)
    finally:
        if not args.json:
            print(file=sys.stderr)
        source.close()
        target.close()
    if args.json:
        emit_json({"from": str(source_path), "to": shown, "rows": copied})
        return 0
    print(
        f"copied {source_path} to {shown}: {copied['goals']} goals, {copied['steps']} steps, "
        f"{copied['actions']} actions, {copied['events']} events, {copied['artifacts']} "
        "document versions; every table's row count matches the source.\n"
        "Point agent-tui at it: [store] url in config.toml, or AGENT_TUI_STORE_URL. The SQLite "
        "file is left as it was."
    )
    return 0
