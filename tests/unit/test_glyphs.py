"""Every status glyph renders in the browser: in ``serve``'s own font, or in those seen rendered.

``serve`` draws the terminal with xterm.js in Roboto Mono (shipped by textual-serve), which has
almost no symbols; the browser takes the others from the system's fonts. ``⧗`` and ``○`` came out
as empty boxes in headless Chromium there, so they may never come back; the glyphs below were
seen rendered, and any new one must be in Roboto Mono (read from the font file itself).
"""

from __future__ import annotations

import struct
from pathlib import Path

import textual_serve

from agent_tui.commands.goals import GLYPHS as CLI_GLYPHS
from agent_tui.core import timeline
from agent_tui.ui.format import DRY_RUN_GLYPH, GLYPHS

SERVED_FONT = Path(textual_serve.__file__).parent / "static" / "fonts"
MISSING_IN_BROWSER = {"⧗", "○"}
SEEN_RENDERED = {"✓", "✗", "▶", "↻", "‖", "⊘", "↷", "?", "●"}
"""Symbols outside Roboto Mono that the served page showed correctly (issue 10's check)."""
DRAWN_BY_XTERM = range(0x2500, 0x25A0)
"""Box drawing and block elements: xterm.js draws these itself, whatever the font."""


def _codepoints(font: Path) -> set[int]:
    """The characters a TrueType font maps (its cmap, formats 4 and 12)."""
    data = font.read_bytes()
    tables = {}
    for i in range(struct.unpack(">H", data[4:6])[0]):
        tag, _, offset, _ = struct.unpack(">4sIII", data[12 + 16 * i : 28 + 16 * i])
        tables[tag] = offset
    base = tables[b"cmap"]
    points: set[int] = set()
    for i in range(struct.unpack(">H", data[base + 2 : base + 4])[0]):
        _, _, sub = struct.unpack(">HHI", data[base + 4 + 8 * i : base + 12 + 8 * i])
        start = base + sub
        fmt = struct.unpack(">H", data[start : start + 2])[0]
        if fmt == 4:
            seg2 = struct.unpack(">H", data[start + 6 : start + 8])[0]
            ends = struct.unpack(f">{seg2 // 2}H", data[start + 14 : start + 14 + seg2])
            firsts = struct.unpack(
                f">{seg2 // 2}H", data[start + 16 + seg2 : start + 16 + 2 * seg2]
            )
            for first, end in zip(firsts, ends, strict=True):
                points.update(range(first, end + 1))
        elif fmt == 12:
            for g in range(struct.unpack(">I", data[start + 12 : start + 16])[0]):
                first, end, _ = struct.unpack(
                    ">III", data[start + 16 + 12 * g : start + 28 + 12 * g]
                )
                points.update(range(first, end + 1))
    return points


def test_status_glyphs_render_in_the_served_page() -> None:
    [font] = sorted(SERVED_FONT.glob("RobotoMono-VariableFont*.ttf"))
    served = _codepoints(font)
    used = {*GLYPHS.values(), *CLI_GLYPHS.values(), *timeline.GLYPHS.values(), DRY_RUN_GLYPH}
    assert not used & MISSING_IN_BROWSER
    for glyph in used:
        point = ord(glyph)
        assert point in served or point in DRAWN_BY_XTERM or glyph in SEEN_RENDERED, glyph
    assert ord("…") in served and ord("•") in served  # waiting and ready: the font's own
