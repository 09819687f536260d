"""The user's keymap: ``[keys]`` in the config maps binding ids to keys, applied by Textual.

Every binding of the app and its screens has an id (``approve``, ``pause_goal``, …). The keymap
replaces the keys of the ids it names and leaves the others alone; an id nobody has is reported
(with the ids that exist), never silently ignored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from textual.binding import Binding
from textual.dom import DOMNode


def _classes() -> Iterator[type[DOMNode]]:
    """The app's, screens' and widgets' classes defined in agent-tui, once their modules loaded."""
    from agent_tui.ui import app  # noqa: F401  (imports every screen the app can show)
    from agent_tui.ui.screens import (  # noqa: F401
        approval,
        dialogs,
        gantt,
        help,
        new_goal,
        schedules,
        search,
        undo_actions,
        welcome,
    )

    seen: set[type[DOMNode]] = set()
    todo: list[type[DOMNode]] = [DOMNode]
    while todo:
        cls = todo.pop()
        sub: type[DOMNode]
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                if sub.__module__.startswith("agent_tui."):
                    yield sub


def bindings() -> dict[str, Binding]:
    """Every binding with an id, by id."""
    found: dict[str, Binding] = {}
    for cls in _classes():
        for item in cls.__dict__.get("BINDINGS", []):
            if isinstance(item, Binding) and item.id:
                found.setdefault(item.id, item)
    return found


def problems(keymap: dict[str, str]) -> str:
    """What is wrong with a ``[keys]`` table ("" when nothing is)."""
    known = bindings()
    unknown = sorted(set(keymap) - set(known))
    if not unknown:
        return ""
    return (
        f"[keys]: no binding has the id {', '.join(unknown)}; "
        "`agent-tui keys` lists the ids and their keys"
    )


def cmd_keys(args: argparse.Namespace) -> int:
    """``agent-tui keys``: every binding id, its keys (after ``[keys]``) and what it does."""
    from agent_tui.config import load_settings

    keymap = load_settings().keys
    rows = []
    for binding_id, binding in sorted(bindings().items()):
        keys = keymap.get(binding_id, binding.key)
        what = binding.tooltip or binding.description or binding.action
        rows.append({"id": binding_id, "keys": keys, "what": what})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["id"]) for r in rows)
        for row in rows:
            print(f"{row['id']:<{width}}  {row['keys']:<18}  {row['what']}")
    if message := problems(keymap):
        print(f"agent-tui: {message}", file=sys.stderr)
        return 1
    return 0
