"""Desktop notifications through the terminal: OSC 9 or OSC 777, besides toasts and the bell.

A toast is only seen when the window is; these escape sequences ask the terminal to raise a
desktop notification, so an approval needed while the window is hidden is noticed. Terminals that
do not know a sequence ignore it, but ``auto`` still sends one only to terminals known to show
it (by their environment variables), and never from ``serve``'s browser tabs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

OSC9_TERMINALS = ("iTerm.app", "WezTerm", "ghostty")
"""``TERM_PROGRAM`` values of terminals that show OSC 9 notifications."""


def choose(setting: str, env: Mapping[str, str] | None = None) -> str:
    """The sequence to send (``osc9``, ``osc777`` or ``off``) for the ``[notify] terminal``
    setting in this environment."""
    if setting != "auto":
        return setting
    env = os.environ if env is None else env
    if "web_driver" in env.get("TEXTUAL_DRIVER", ""):  # a browser tab of ``serve``
        return "off"
    if env.get("TERM_PROGRAM") in OSC9_TERMINALS or env.get("WT_SESSION") or env.get("ConEmuPID"):
        return "osc9"
    term = env.get("TERM", "")
    if term.startswith(("foot", "rxvt")):
        return "osc777"
    return "off"


def _clean(text: str) -> str:
    """No control characters (an ESC or BEL would end the sequence early) and no ``;`` in
    OSC 777's fields."""
    return "".join(c if c.isprintable() else " " for c in text).replace(";", ",")[:200]


def sequence(kind: str, title: str, body: str) -> str:
    """The escape sequence of one notification (empty when ``kind`` is ``off``)."""
    if kind == "osc9":
        return f"\x1b]9;{_clean(title)}: {_clean(body)}\x07"
    if kind == "osc777":
        return f"\x1b]777;notify;{_clean(title)};{_clean(body)}\x07"
    return ""
