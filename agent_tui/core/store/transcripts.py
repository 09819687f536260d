"""Model steps' conversations, stored message by message (``messages``), numbered per step.

Reading one back is :func:`.panes.messages_after` (the whole of it from message 0).
"""

from __future__ import annotations

from agent_tui.core.store import Tx
from agent_tui.core.store.panes import last_message_seq


def append_message(tx: Tx, step_id: int, role: str, content: str) -> int:
    """Store a message (``content``: the message as JSON) after the step's last; its number."""
    seq = last_message_seq(tx.store, step_id) + 1
    tx.execute(
        "INSERT INTO messages (step_id, seq, role, content, created_at) VALUES (?, ?, ?, ?, ?)",
        (step_id, seq, role, content, tx.now),
    )
    return seq


def has_messages(tx: Tx, step_id: int) -> bool:
    """Whether the step has a stored conversation."""
    return tx.one("SELECT 1 FROM messages WHERE step_id = ? LIMIT 1", (step_id,)) is not None
