"""What ``doctor`` asks of the database itself."""

from __future__ import annotations

from agent_tui.core.store import Store


def quick_check(store: Store) -> str:
    """SQLite's ``quick_check``: ``"ok"``, or what is damaged."""
    return str(store.conn.execute("PRAGMA quick_check").fetchone()[0])


def goal_count(store: Store) -> int:
    """Every goal, archived ones included."""
    return int(store.conn.execute("SELECT count(*) FROM goals").fetchone()[0])
