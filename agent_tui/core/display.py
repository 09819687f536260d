"""How states and durations look, in the TUI, the CLI and the export alike: one glyph and one
colour per status, one way to say how long something took.

The glyphs must render in the browser (``serve``), whose font (Roboto Mono) has almost no symbols:
the rest come from the system's fallback fonts, which lack some (``⧗`` and ``○`` showed as empty
boxes). Waiting is ``…`` and ready ``•``, both in Roboto Mono itself; tests/unit/test_glyphs.py
checks every status glyph against the fonts. Styles are theme variables, as Textual's content
markup spells them; front ends without colour ignore them.
"""

from __future__ import annotations

import socket
import time

GLYPHS: dict[str, str] = {
    "completed": "✓",
    "failed": "✗",
    "running": "▶",
    "planning": "▶",
    "waiting": "…",
    "waiting_approval": "…",
    "retry_wait": "↻",
    "unknown": "?",
    "paused": "‖",
    "queued": "·",
    "pending": "·",
    "ready": "•",
    "cancelled": "⊘",
    "skipped": "↷",
}

DRY_RUN_GLYPH = "≈"
"""A step or goal that completed in a dry run: nothing was executed."""

STYLES: dict[str, str] = {
    "completed": "$text-success",
    "failed": "$text-error",
    "running": "$text-accent",
    "planning": "$text-accent",
    "waiting": "$text-warning",
    "waiting_approval": "$text-warning",
    "retry_wait": "$text-warning",
    "unknown": "$text-error",
    "paused": "$text-warning",
    "cancelled": "$text-muted",
    "skipped": "$text-muted",
}
"""Content styles (theme variables) per status; statuses not listed use the default colour."""


def glyph(status: str) -> str:
    return GLYPHS.get(status, "·")


def style(status: str) -> str:
    return STYLES.get(status, "")


def duration(start: float | None, end: float | None, now: float | None = None) -> str:
    """``40 ms``, ``2.4 s``, ``2.5 min`` or ``1.2 h`` between two epoch times (``end`` defaults to now)."""
    if start is None:
        return ""
    seconds = max(0.0, (end if end is not None else (now or time.time())) - start)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def changes_summary(files: int, added: int, removed: int) -> str:
    """``changed 3 files (+42 −7)``."""
    if not files:
        return "changed nothing"
    return f"changed {files} file{'s' if files != 1 else ''} (+{added} −{removed})"


def human_size(size: int) -> str:
    """``512 bytes``, ``3.2 KiB``, ``1.5 MiB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def output_log_place(host: str | None, path: str | None, fallback: str) -> str:
    """Where an action's whole output is: its log file, and the host it is on when that is not
    this one (viewers of a shared database may be on any host); ``fallback`` for an action that
    recorded none (run before agent-tui recorded it)."""
    if not path:
        return fallback
    if host and host != socket.gethostname():
        return f"{path} on host {host}"
    return path
