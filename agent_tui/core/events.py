"""What the core reports to whoever listens: journal events and live output chunks."""

from __future__ import annotations

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


class Sink(Protocol):
    """Receives everything the executor reports; the UI's sink turns these into messages."""

    def on_event(self, event: Event) -> None: ...

    def on_output(self, chunk: OutputChunk) -> None: ...


def format_event(event: Event) -> str:
    """One readable log line: time, where, what."""
    stamp = datetime.fromtimestamp(event.ts).strftime("%H:%M:%S")
    where = f"goal {event.goal_id}" if event.goal_id is not None else "executor"
    return f"{stamp} {where:<9} {event.kind:<20} {event.message}"
