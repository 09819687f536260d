"""Helpers shared by the commands: opening the store, printing JSON and tables, times."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_tui.config import Settings
    from agent_tui.core.store import Store

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
"""``worker --until-idle`` stopped with work that waits for a person (approvals, budgets)."""
EXIT_NO_SUCH_ID = 4
"""A goal, approval, step, schedule or rule id that does not exist."""


class UsageError(Exception):
    """A command used wrongly; the message says how to use it."""


def open_store(conf: Settings | None = None) -> Store:
    """The database, redacting the config's secret names too (a broken config is an error)."""
    from agent_tui.core import store

    return store.open_store(conf or settings())


def settings() -> Settings:
    """The settings (imported here: the parser and ``--version`` need none of them)."""
    from agent_tui.config import load_settings

    return load_settings()


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    moment = datetime.fromtimestamp(ts)
    if abs(time.time() - ts) < 86400:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def parse_goal_id(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"'{raw}' is not a goal id (a number, as `agent-tui ls` shows)") from None
    if value <= 0:
        raise UsageError(f"'{raw}' is not a goal id (a positive number)")
    return value
