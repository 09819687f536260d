"""``agent-tui vacuum``: give the database's free pages (after retention pruned) back to the disk."""

from __future__ import annotations

import argparse

from agent_tui.commands.common import emit_json, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def cmd_vacuum(args: argparse.Namespace) -> int:
    from agent_tui.core.store import retention

    store = open_store()
    try:
        before = retention.database_sizes(store)
        if not retention.incremental(store) and not args.json:
            print(
                "this database was made before incremental vacuum: it is rewritten whole once "
                f"(needs about {before['database_bytes'] / 2**20:.0f} MiB of free disk and "
                "holds the database while it runs); later runs are incremental"
            )
        kind, freed = retention.vacuum(store)
        after = retention.database_sizes(store)
    finally:
        store.close()
    if args.json:
        emit_json({"mode": kind, "freed_bytes": freed, "before": before, "after": after})
        return 0
    print(
        f"{kind} vacuum: {freed / 2**20:.1f} MiB returned to the disk; the database is now "
        f"{after['database_bytes'] / 2**20:.1f} MiB"
    )
    return 0
