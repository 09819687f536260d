"""One place for a background worker's failure: a toast and a log line, never a silent stop.

Textual tells a worker's state only to the node that started it (the message does not bubble),
so each node that runs workers mixes in :class:`ReportsWorkerErrors`.
"""

from __future__ import annotations

import logging

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

log = logging.getLogger("agent_tui.ui")


def report_failure(node: DOMNode, worker: Worker[object]) -> None:
    """Say that ``worker`` failed: the log gets the traceback, the screen a toast."""
    error = worker.error
    what = worker.name or worker.group or "a background task"
    log.error("%s failed: %s", what, error, exc_info=error)
    node.app.notify(
        f"{what} failed: {type(error).__name__}: {error} (details in the log: agent-tui locate log)",
        severity="error",
        markup=False,
        timeout=20,
    )


class ReportsWorkerErrors:
    """A node whose failed workers are reported by :func:`report_failure`."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            assert isinstance(self, DOMNode)
            report_failure(self, event.worker)
