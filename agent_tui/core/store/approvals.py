"""The approvals queue's items: the one place one is created.

Four kinds ask a person: ``action`` (a tool call the policy says to ask about), ``unknown`` (a
side-effecting action that was interrupted: run again, mark done, skip, or wait for a command that
still runs), ``budget`` (a limit was reached: raise it or stop) and ``plan`` (a plan to review).
:mod:`agent_tui.core.control` decides them, one routine per kind, and records each decision with
:func:`decide`.
"""

from __future__ import annotations

from agent_tui.core.store import Row, Store, Tx
from agent_tui.core.store.rows import Approval, ApprovalKind

Kind = ApprovalKind
KINDS: tuple[Kind, ...] = ("action", "unknown", "budget", "plan")


def request(
    tx: Tx,
    kind: Kind,
    *,
    goal_id: int,
    title: str,
    detail: str,
    step_id: int | None = None,
    action_id: int | None = None,
    expires_at: float | None = None,
    offer: str | None = None,
) -> int:
    """A pending item for a person; its id. ``offer`` is what approving it does where that is
    data (a budget's new limit, as JSON); ``expires_at`` when it times out into a denial."""
    return tx.insert(
        "approvals",
        {
            "kind": kind,
            "goal_id": goal_id,
            "step_id": step_id,
            "action_id": action_id,
            "status": "pending",
            "title": title,
            "detail": detail,
            "choice": offer,
            "created_at": tx.now,
            "expires_at": expires_at,
        },
    )


def approval(db: Tx | Store, approval_id: int) -> Approval | None:
    """The approval's row, or ``None`` when there is no such approval."""
    row = db.one("SELECT * FROM approvals WHERE id = ?", (approval_id,))
    return None if row is None else Approval.of(row)


def latest_of_step(db: Tx | Store, step_id: int, kind: Kind) -> Row | None:
    """The step's latest approval of ``kind``, whatever its status."""
    return db.one(
        "SELECT * FROM approvals WHERE step_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (step_id, kind),
    )


def latest_of_action(db: Tx | Store, action_id: int) -> Row | None:
    """The action's latest approval, whatever its status."""
    return db.one(
        "SELECT * FROM approvals WHERE action_id = ? ORDER BY id DESC LIMIT 1", (action_id,)
    )


def decide(
    tx: Tx, approval_id: int, status: str, by: str, reason: str | None, choice: str | None
) -> None:
    """Record a decision on a pending approval (a decided one is left as it is)."""
    tx.execute(
        "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, reason = ?,"
        " choice = ? WHERE id = ? AND status = 'pending'",
        (status, tx.now, by, reason, choice, approval_id),
    )
