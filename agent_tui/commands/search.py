"""``agent-tui search TEXT``: full-text search over goals, outputs, transcripts and documents."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from agent_tui.commands.common import UsageError, emit_json, open_store
from agent_tui.core.store.search import KINDS, SearchError, search


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``TEXT``, ``--kind``, ``--limit``, ``--json``."""
    parser.add_argument("text", nargs="+", help="words to find (the last one may be a prefix)")
    parser.add_argument(
        "--kind", action="append", choices=KINDS, help="only these kinds (repeatable)"
    )
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="at most N hits")
    parser.add_argument("--json", action="store_true")


def cmd_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    try:
        hits = search(
            open_store(), " ".join(args.text), limit=args.limit, kinds=tuple(args.kind or KINDS)
        )
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        emit_json([asdict(hit) for hit in hits])
        return 0
    if not hits:
        print(f"nothing matches {' '.join(args.text)!r}")
        return 0
    for hit in hits:
        where = f"goal {hit.goal_id}" + (f" '{hit.goal_title[:40]}'" if hit.goal_title else "")
        what = {"output": "action", "message": "step", "document": "document"}.get(hit.kind)
        ref = f"  ({what} {hit.ref_id})" if what else ""
        print(f"{hit.kind:<8} {where}  {hit.title[:30]}{ref}")
        print(f"    {hit.snippet[:160]}")
    return 0
