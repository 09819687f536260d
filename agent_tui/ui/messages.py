"""Messages from the bridge to the UI: facts about the core, in past tense.

Only :class:`~agent_tui.ui.bridge.Bridge` creates them; widgets never hear from the core directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from agent_tui.core.store import Event


@dataclass(slots=True)
class OutputSegment:
    """Consecutive output of one action, starting ``start`` characters into its stream."""

    goal_id: int
    step_id: int
    action_id: int
    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


class EventsArrived(Message):
    """New journal events, oldest first; ``external`` when read from another process's commits."""

    def __init__(self, events: list[Event], *, external: bool = False) -> None:
        super().__init__()
        self.events = events
        self.external = external


class OutputArrived(Message):
    """Live output of actions running in this process, batched (one segment per action)."""

    def __init__(self, segments: list[OutputSegment]) -> None:
        super().__init__()
        self.segments = segments


class StoreChanged(Message):
    """Another process committed something (output rows, say) even if it logged no event."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)
