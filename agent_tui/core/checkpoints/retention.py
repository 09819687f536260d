"""Pruning checkpoints: snapshots of goals finished longer ago than ``[checkpoints] keep_days``.

The record of what changed (files, counts, diff) stays in the database for the report and the
export; the snapshots behind it go, so such a goal can no longer be undone. Runs from the
executor's housekeeping, off the event loop, in small transactions.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from agent_tui.core.checkpoints.shadow import CheckpointError, Shadow
from agent_tui.core.store import Store, checkpoints

BATCH = 200
"""Checkpoints pruned per transaction."""
log = logging.getLogger(__name__)


def prune_finished(store: Store, settings: Any, now: float) -> int:
    """Prune the checkpoints of goals finished before ``now - keep_days``; returns how many."""
    keep_days = getattr(getattr(settings, "checkpoints", None), "keep_days", 14.0)
    if not keep_days:
        return 0
    cutoff = now - keep_days * 86400
    rows = checkpoints.prunable(store, cutoff, BATCH * 10)
    by_workspace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_workspace[row["workspace"]].append(row)
    pruned = 0
    for workspace, group in by_workspace.items():
        refs = []
        for row in group:
            if row["kind"] == "action" and row["action_id"] is not None:
                refs += [f"actions/{row['action_id']}/before", f"actions/{row['action_id']}/after"]
            else:
                refs += [f"undo/{row['id']}/before", f"undo/{row['id']}/after"]
        try:
            shadow = Shadow(Path(workspace))
            if shadow.git_dir.exists():
                with shadow.locked():
                    shadow.forget(refs)
                    shadow.prune()
        except (CheckpointError, OSError) as exc:
            log.warning("pruning checkpoints of %s: %s", workspace, exc)
            continue
        for start in range(0, len(group), BATCH):
            ids = [r["id"] for r in group[start : start + BATCH]]
            with store.write() as tx:
                checkpoints.mark_pruned(tx, ids, now)
        pruned += len(group)
    if pruned:
        with store.write() as tx:
            tx.event("checkpoint.pruned", f"snapshots of {pruned} old checkpoint(s) pruned")
    return pruned
