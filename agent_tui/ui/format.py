"""How text is cut to fit the TUI; glyphs, styles and durations come from
:mod:`agent_tui.core.display`, shared with the CLI and the export."""

from __future__ import annotations

from agent_tui.core.display import DRY_RUN_GLYPH, GLYPHS, STYLES, duration, glyph, style

__all__ = ["DRY_RUN_GLYPH", "GLYPHS", "STYLES", "duration", "glyph", "one_line", "style"]


def one_line(text: str | None, limit: int = 200) -> str:
    """The first line of ``text``, cut to ``limit`` characters, with … when anything was left out."""
    if not text:
        return ""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if len(lines) > 1 else "")
