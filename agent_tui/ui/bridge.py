"""The bridge from the core to the UI: an event sink and a database watcher that post messages.

In-process, the executor calls :meth:`Bridge.on_event` and :meth:`Bridge.on_output` on its own
thread (see :mod:`agent_tui.core.executor_thread`), and the TUI's own writes call ``on_event`` on
the UI's; the bridge only buffers them under a lock, and the first item into an empty buffer
schedules a drain on the UI's loop, which posts the buffers as at most ~15 messages a second (never
one per line). Nothing runs while nothing happens: an idle TUI costs no timer ticks here. Another process's work is seen when it rings the store's
doorbell after its commit (:mod:`agent_tui.core.store.wakes`): the bridge then reads the journal from
the last event seen, at most once per batch interval; ``PRAGMA data_version`` is checked every
``watch_interval`` only as a safety net. Nothing here touches a widget: the target handles the
messages.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from textual.message_pump import MessagePump
from textual.timer import Timer

from agent_tui.core.events import OutputChunk
from agent_tui.core.store import Event, Store
from agent_tui.core.store.wakes import Listening
from agent_tui.ui.away import away_safe
from agent_tui.ui.messages import EventsArrived, OutputArrived, OutputSegment, StoreChanged

DRAIN_INTERVAL = 1 / 15
"""Seconds between two batches of buffered events and output."""

FINISHED_ACTIONS = frozenset({"action.succeeded", "action.failed"})
FINISHED_TURNS = frozenset({"llm.turn", "step.completed", "step.failed"})
"""Events after which an agent step's live model text starts from zero again."""


class Bridge:
    """Buffers what the core reports and posts it to ``target`` in batches.

    ``listen`` registers the bridge on the store itself; use it when no executor in this process
    forwards the events (a viewer), so the UI's own changes still show at once.
    """

    def __init__(self, store: Store, *, listen: bool = False, watch_interval: float = 1.0) -> None:
        self.store = store
        self.target: MessagePump | None = None
        self.watch_interval = watch_interval
        self._events: list[Event] = []
        self._segments: dict[int, OutputSegment] = {}
        self._offsets: dict[int, int] = {}
        self._finished: set[int] = set()
        self._cursor = store.last_event_id()
        self._seen: set[int] = set()
        self._version = store.data_version()
        self._timers: list[Timer] = []
        self._poll: Callable[[], None] = self.poll
        """:meth:`poll`, telling the app of a database server that went away (once started)."""
        self._doorbell: Listening | None = None
        self._last_poll = float("-inf")
        self._poll_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_due = False
        """A drain is scheduled (set under the lock, cleared by the drain)."""
        self._last_drain = float("-inf")
        self._listening = listen
        self._lock = threading.Lock()
        """Guards the buffers and the cursor: the executor's thread and the UI's both report."""
        if listen:
            store.listeners.append(self.on_event)

    # -- the sink: called by the executor's thread, and by the UI's store on the UI's ----------

    def on_event(self, event: Event) -> None:
        """Buffer one event; remember its id so the journal poll does not report it twice."""
        with self._lock:
            self._take(event)
            self._kick()

    def _take(self, event: Event) -> None:
        if event.id <= self._cursor:
            return  # the journal poll read it first (it was committed on another connection)
        if event.id == self._cursor + 1:
            self._cursor = event.id
            while self._cursor + 1 in self._seen:
                self._cursor += 1
                self._seen.discard(self._cursor)
        elif event.id > self._cursor:
            self._seen.add(event.id)
        self._events.append(event)
        if event.kind in FINISHED_ACTIONS and event.action_id is not None:
            self._finished.add(event.action_id)
        elif event.kind in FINISHED_TURNS and event.step_id is not None:
            # The turn's text is stored in the transcript now: live text not yet posted is stale.
            self._segments.pop(-event.step_id, None)
            self._offsets.pop(-event.step_id, None)

    def on_output(self, chunk: OutputChunk) -> None:
        """Append a chunk to its stream's pending segment, tracking its offset in the stream.

        An action's output is keyed by its id; an agent step's live model text (action 0) by the
        step, negated, so two agent steps streaming at once stay apart.
        """
        with self._lock:
            self._take_output(chunk)
            self._kick()

    def _take_output(self, chunk: OutputChunk) -> None:
        key = chunk.action_id or -chunk.step_id
        start = self._offsets.get(key, 0)
        self._offsets[key] = start + len(chunk.text)
        pending = self._segments.get(key)
        if pending is None:
            self._segments[key] = OutputSegment(
                chunk.goal_id, chunk.step_id, chunk.action_id, start, chunk.text
            )
        else:
            pending.text += chunk.text

    # -- posting -----------------------------------------------------------------------------

    def _kick(self) -> None:
        """Under the lock, from any thread: have the UI's loop drain soon, unless it will."""
        if self._drain_due or self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._drain_soon)
        except RuntimeError:
            return  # the UI's loop has closed: nobody is left to show it to
        self._drain_due = True

    def _drain_soon(self) -> None:
        """On the UI's loop: drain once the batch interval since the last drain has passed."""
        wait = self._last_drain + DRAIN_INTERVAL - time.monotonic()
        if wait <= 0:
            self.drain()
        else:
            asyncio.get_running_loop().call_later(wait, self.drain)

    def start(self, owner: MessagePump, target: MessagePump) -> None:
        """Post to ``target`` from now on; the safety net's timer is owned by ``owner`` (the
        app). Call it on the UI's loop."""
        self.target = target
        self._loop = asyncio.get_running_loop()
        self._poll = away_safe(owner, self.poll)
        self._timers = [owner.set_interval(self.watch_interval, self._poll, name="bridge-poll")]
        self._doorbell = self.store.wakes.listen(self._loop, self._rung)
        with self._lock:
            if self._events or self._segments:
                self._kick()

    def _rung(self) -> None:
        """Another process committed: read the journal now, or once the batch interval since
        the last read has passed (a busy worker rings hundreds of times a second)."""
        if self._poll_pending or self.target is None:
            return
        wait = self._last_poll + DRAIN_INTERVAL - time.monotonic()
        if wait <= 0:
            self._poll()
            return
        self._poll_pending = True
        asyncio.get_running_loop().call_later(wait, self._poll_later)

    def _poll_later(self) -> None:
        self._poll_pending = False
        self._poll()

    def stop(self) -> None:
        """Stop the timers and stop listening; safe to call twice."""
        for timer in self._timers:
            timer.stop()
        self._timers = []
        if self._doorbell is not None:
            self._doorbell.close()
            self._doorbell = None
        if self._listening and self.on_event in self.store.listeners:
            self.store.listeners.remove(self.on_event)
        self._listening = False
        self.target = None
        self._loop = None

    def drain(self) -> None:
        """Post what was buffered since the last call: events first, then output."""
        target = self.target
        if target is None:
            return
        with self._lock:
            self._drain_due = False
            self._last_drain = time.monotonic()
            events, self._events = self._events, []
            segments = list(self._segments.values())
            self._segments = {}
            for action_id in self._finished:
                self._offsets.pop(action_id, None)
            self._finished.clear()
        if events:
            target.post_message(EventsArrived(events))
        if segments:
            target.post_message(OutputArrived(segments))

    def poll(self) -> None:
        """If another connection committed, post :class:`StoreChanged` and the events it logged."""
        target = self.target
        if target is None:
            return
        self._last_poll = time.monotonic()
        version = self.store.data_version()
        if version == self._version:
            return
        self._version = version
        events: list[Event] = []
        with self._lock:
            while True:
                batch = self.store.events_after(self._cursor)
                if not batch:
                    break
                events.extend(e for e in batch if e.id not in self._seen)
                self._cursor = batch[-1].id
                if len(batch) < 1000:
                    break
            self._seen = {i for i in self._seen if i > self._cursor}
        target.post_message(StoreChanged())
        if events:
            target.post_message(EventsArrived(events, external=True))
