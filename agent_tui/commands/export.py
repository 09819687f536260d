"""``agent-tui export GOAL``: the goal as ``goal-<id>.md`` and ``goal-<id>.json``, written atomically."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent_tui import paths
from agent_tui.commands.common import open_store, parse_goal_id


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("goal", help="the goal id, as `agent-tui ls` shows")
    parser.add_argument(
        "--out", metavar="DIR", default=".", help="the directory to write to (default: here)"
    )
    parser.add_argument(
        "--format",
        choices=["md", "json", "both"],
        default="both",
        help="Markdown, JSON or both (default)",
    )


def cmd_export(args: argparse.Namespace) -> int:
    from agent_tui.core.control import NoSuchId
    from agent_tui.core.export import export_goal, render_markdown

    goal_id = parse_goal_id(args.goal)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: not a directory")
    store = open_store()
    try:
        doc = export_goal(store, goal_id)
    finally:
        store.close()
    if doc is None:
        raise NoSuchId(f"no goal {goal_id} (see `agent-tui ls`)")
    files: list[tuple[Path, str]] = []
    if args.format in ("md", "both"):
        files.append((out / f"goal-{goal_id}.md", render_markdown(doc)))
    if args.format in ("json", "both"):
        text = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
        files.append((out / f"goal-{goal_id}.json", text))
    for path, text in files:
        try:
            paths.write_atomic(path, text)
        except OSError as exc:
            raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None
        print(path)
    return 0
