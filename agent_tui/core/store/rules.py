"""Stored policy rules (``agent-tui rules``, "always allow" in an approval) and their version.

Every change to the table made here bumps a counter in the settings table in the same
transaction, so a reader tells with one indexed read whether its cached rules are still the stored ones.
"""

from __future__ import annotations

from typing import Any

from agent_tui.core.store import Record, Row, Store, Tx

VERSION_KEY = "rules_version"
"""The settings row counting changes to the rules table."""


def find_same(tx: Tx, tool: str, matcher: str, pattern: str, decision: str) -> Row | None:
    """A stored rule with this tool, matcher, pattern and decision, if there is one."""
    return tx.one(
        "SELECT * FROM rules WHERE tool = ? AND matcher = ? AND pattern = ? AND decision = ?",
        (tool, matcher, pattern, decision),
    )


def insert(
    tx: Tx, *, tool: str, matcher: str, pattern: str, decision: str, source: str, bound: str | None
) -> int:
    """Store a rule (``bound``: the files' fingerprints as JSON, or ``None``); its id."""
    rule_id = tx.insert(
        "rules",
        {
            "tool": tool,
            "matcher": matcher,
            "pattern": pattern,
            "decision": decision,
            "source": source,
            "created_at": tx.now,
            "bound": bound,
        },
    )
    _bump_version(tx)
    return rule_id


def set_bound(tx: Tx, rule_id: int, bound: str) -> None:
    """Bind a rule to the files as they are now (``bound``: their fingerprints as JSON)."""
    tx.execute("UPDATE rules SET bound = ? WHERE id = ?", (bound, rule_id))
    _bump_version(tx)


def rule(tx: Tx, rule_id: int) -> Row | None:
    return tx.one("SELECT * FROM rules WHERE id = ?", (rule_id,))


def delete(tx: Tx, rule_id: int) -> None:
    tx.execute("DELETE FROM rules WHERE id = ?", (rule_id,))
    _bump_version(tx)


def all_rules(store: Store) -> list[Record]:
    """Every stored rule, in id order."""
    return store.all("SELECT * FROM rules ORDER BY id")


def version(store: Store) -> Any:
    """The rules' change counter as stored (``None`` before the first change)."""
    row = store.one("SELECT value FROM settings WHERE key = ?", (VERSION_KEY,))
    return row["value"] if row is not None else None


def _bump_version(tx: Tx) -> None:
    """Count a change to the rules table (in the transaction that made it)."""
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key)"
        " DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT)",
        (VERSION_KEY,),
    )


def exists(store: Store, rule_id: int) -> bool:
    """Whether a stored rule has this id."""
    return store.one("SELECT id FROM rules WHERE id = ?", (rule_id,)) is not None
