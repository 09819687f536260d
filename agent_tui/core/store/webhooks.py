"""What a webhook's payload reads besides the event: the approval an ``approval.requested`` names.

The goal in a payload is :func:`.views.goal_summary` of :func:`.views.goal_row`; the delivery cursor
is a setting (:meth:`Store.setting`).
"""

from __future__ import annotations

from agent_tui.core.store import Row, Store


def approval(store: Store, approval_id: int) -> Row | None:
    """An approval as a receiver sees it: id, kind, status, title, detail, created and expiry."""
    return store.one(
        "SELECT id, kind, status, title, detail, created_at, expires_at"
        " FROM approvals WHERE id = ?",
        (approval_id,),
    )
