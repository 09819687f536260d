"""What ``doctor`` asks of the database itself."""

from __future__ import annotations

from agent_tui.core.store import Store


def quick_check(store: Store) -> str:
    """SQLite's ``quick_check``: ``"ok"``, or what is damaged (PostgreSQL checks its own pages:
    ``"ok"`` once the server answers)."""
    if store.dialect == "postgresql":
        store.execute("SELECT 1").fetchone()
        return "ok"
    return str(store.execute("PRAGMA quick_check").fetchone()[0])


def goal_count(store: Store) -> int:
    """Every goal, archived ones included."""
    return int(store.execute("SELECT count(*) FROM goals").fetchone()[0])
