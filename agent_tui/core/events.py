"""What the core reports to whoever listens: journal events and live output chunks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from agent_tui.core.store import Event

__all__ = ["Event", "OutputChunk", "Sink", "format_event"]


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """A piece of a running action's output, pushed to in-process listeners as it arrives."""

    goal_id: int
    step_id: int
    action_id: int
    stream: str
    text: str


log = logging.getLogger("agent_tui.executor")


class Sink(Protocol):
    """Receives everything the executor reports; the UI's sink turns these into messages."""

    def on_event(self, event: Event) -> None: ...

    def on_output(self, chunk: OutputChunk) -> None: ...


class Fanout:
    """Passes what the executor reports to every sink; a sink that fails is logged, never fatal."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def on_event(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink.on_event(event)
            except Exception:
                log.exception("an event sink failed")

    def on_output(self, chunk: OutputChunk) -> None:
        for sink in self.sinks:
            try:
                sink.on_output(chunk)
            except Exception:
                log.exception("an output sink failed")


def format_event(event: Event) -> str:
    """One readable log line: time, where, what."""
    stamp = datetime.fromtimestamp(event.ts).strftime("%H:%M:%S")
    where = f"goal {event.goal_id}" if event.goal_id is not None else "executor"
    return f"{stamp} {where:<9} {event.kind:<20} {event.message}"
