"""The store boundary: every SQL statement agent-tui runs lives in this package, and nothing above it.

Above the boundary (the executor, the action pipeline, the agent, control, the TUI and the CLI) code
calls functions of these modules with an open :class:`Tx` or a :class:`Store`; it never writes SQL
(``tests/unit/test_store_boundary.py`` scans every module outside this package for SQL text). A second
backend implements the same modules against its own connection; the schema and its migrations
(:mod:`.schema`) are versioned once for every backend.

The modules, one per aggregate:

- :mod:`.connection`: the connection, :class:`Store` and :class:`Tx`, the journal (:meth:`Tx.event`,
  :meth:`Store.events_after`) and the settings table; :mod:`.schema`, the migrations;
  :mod:`.opening`, :func:`open_store`; :mod:`.postgres`, the PostgreSQL store; :mod:`.wakes`, how
  other processes are told of a commit.
- :mod:`.runs`: the executor's transactions on steps and actions (claim, lease renewal, propose,
  start, finish, retry, recovery of a dead owner's work); :mod:`.lifecycle`, goal and step
  transitions (wait, resume, release, settle, cancel, promote); :mod:`.readiness`, what the
  executor's timers and its idle check ask; :mod:`.liveness`, executor processes' heartbeats.
- :mod:`.goals`, :mod:`.steps`, :mod:`.actions`, :mod:`.plans`: reads of one row, and the few fields
  set outside a status transition; :mod:`.rows`, the typed rows.
- :mod:`.approvals` (the queue's items: requested in one place, decided once), :mod:`.limits` (holds
  and the counts limits are checked against), :mod:`.budgets`, :mod:`.usage`, :mod:`.models` (goals
  waiting for an unreachable model server).
- :mod:`.output`, :mod:`.transcripts`, :mod:`.checkpoints`, :mod:`.report`, :mod:`.rules`,
  :mod:`.schedules`, :mod:`.webhooks`: the rows of each.
- :mod:`.views`, :mod:`.panes`, :mod:`.search`: read models for ``show``/``ls``, the panes, search;
  :mod:`.ids` (shell completion), :mod:`.health` (``doctor``), :mod:`.retention` (pruning, vacuum).

The transactions it promises, and their isolation
-------------------------------------------------

Every write runs in :meth:`Store.write`: on SQLite a ``BEGIN IMMEDIATE`` transaction, which takes the
database's single write lock before its first read, so every read-then-write inside it is serialisable
across all processes sharing the file; a writer that finds the lock held waits up to ``busy_timeout``
and then raises :class:`Busy`, which callers treat as a fault state, never as a lost write.

- **Claim** (:func:`.runs.claim`): ready steps move to ``running`` with an owner and a lease expiry,
  within the global, per-goal, daily and per-tool limits counted in the same transaction. No step is
  claimed twice: the claim's ``UPDATE … WHERE status = 'ready'`` and the limit counts see one snapshot.
  A backend with row locks implements it with ``SELECT … FOR UPDATE SKIP LOCKED``.
- **Lease renewal** (:func:`.runs.renew_leases`): only the owner's running steps are extended; a step
  whose lease expired is taken back by :func:`.runs.recover_expired` in one transaction, and the late
  owner's writes are refused (:class:`StaleState`, :func:`.runs.still_ours`).
- **Propose** (:func:`.runs.propose_action`): the action row, its verdict and, when it must wait, the
  approval row and the step's ``waiting_approval`` state commit together, so an approval never points
  at an action that does not exist and no action starts without its decision on record.
- **Finish** (:func:`.runs.finish_action`, :func:`.runs.complete_step`, :func:`.runs.retry_or_fail`):
  the result, the step's transition, the dependents it makes ready and the goal's settlement commit
  together; a result is made durable before anything else acts on it.
- **The journal**: events appended in a transaction (:meth:`Tx.event`) commit with it and reach
  in-process listeners only after the commit; other processes read them by id
  (:meth:`Store.events_after`), so the journal is totally ordered and never shows a rolled-back change.

Reads outside a transaction see the last committed state (WAL snapshot reads never block a writer).
Rows cross the boundary as :class:`Row` mappings or as the frozen dataclasses of the read models.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_tui.core.store.connection import (
        Away,
        Busy,
        Event,
        Listener,
        Record,
        Row,
        StaleState,
        Store,
        StoreError,
        Tx,
        is_busy,
        is_full,
        loads,
        lock_holders,
    )
    from agent_tui.core.store.opening import open_store

__all__ = [
    "Away",
    "Busy",
    "Event",
    "Listener",
    "Record",
    "Row",
    "StaleState",
    "Store",
    "StoreError",
    "Tx",
    "is_busy",
    "is_full",
    "loads",
    "lock_holders",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """The connection's names, imported on first use: a module that needs only a small part of the
    store (shell completion's ids) does not pay for the connection's imports."""
    if name == "open_store":
        from agent_tui.core.store import opening

        return opening.open_store
    if name in __all__:
        from agent_tui.core.store import connection

        return getattr(connection, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
