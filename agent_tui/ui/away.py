"""A database server that went away (PostgreSQL restarting, a network gone) is a wait, not a crash.

The TUI's store tries a lost server once per use (``patience`` 0: its reads run on the event loop,
which must not stall). A read that finds the server away raises :class:`Away`; Textual would end
the app on an exception in a handler (and stop the node's message loop), so every node that reads
the store mixes in :class:`SurvivesAway`, and timer callbacks go through :func:`away_safe`. The app
then says in the header that the server is away, tries it every second, and refreshes everything
once it answers again. A SQLite file is never away.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

from agent_tui.core.store import Away


def _tell(node: MessagePump, error: Away) -> None:
    app: Any = node.app
    app.database_away(error)


class SurvivesAway:
    """A node whose handlers may read the store: :class:`Away` is told to the app, not raised."""

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except Away as error:
            assert isinstance(self, MessagePump)
            _tell(self, error)


def away_safe(node: MessagePump, callback: Callable[[], object]) -> Callable[[], None]:
    """``callback`` for a timer of ``node``: :class:`Away` is told to the app, not raised."""

    @functools.wraps(callback)
    def guarded() -> None:
        try:
            callback()
        except Away as error:
            _tell(node, error)

    return guarded
