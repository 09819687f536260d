"""Where a goal may run: workers on several hosts share one database (PostgreSQL).

A goal may name a label (``runs_on`` in its recipe); a worker has the labels of its config
(``[executor] labels``) and always ``host:<its host name>``. A goal's workspace is a path on the
host that runs it, so a goal is pinned to the host that takes its first step, unless every host
sees the same workspaces (``[executor] shared_workspaces``, a shared file system). A pinned goal's
steps are taken back from a dead worker as usual, but only its host runs them again: while no
worker of that host is alive they wait, and the goal says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    """Which goals an executor may run."""

    host: str
    labels: tuple[str, ...] = ()
    shared_workspaces: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """Every label a goal's ``runs_on`` may name to run here."""
        return (*self.labels, f"host:{self.host}")

    def where(self, goal: str = "g") -> tuple[str, list[Any]]:
        """An ``AND …`` clause on the goals table (aliased ``goal``) and its parameters."""
        marks = ", ".join("?" for _ in self.names)
        sql = f" AND ({goal}.runs_on IS NULL OR {goal}.runs_on IN ({marks}))"
        params: list[Any] = list(self.names)
        if not self.shared_workspaces:
            sql += f" AND ({goal}.host IS NULL OR {goal}.host = ?)"
            params.append(self.host)
        return sql, params

    def admits(self, runs_on: str | None, host: str | None) -> bool:
        """Whether a goal with this label and host may run here (what :meth:`where` asks)."""
        return (runs_on is None or runs_on in self.names) and (
            self.shared_workspaces or host is None or host == self.host
        )


ANYWHERE = Placement(host="", shared_workspaces=True)
"""No label and no host asked for (callers that run goals of every kind, such as tests)."""
