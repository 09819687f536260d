"""An agent step's stored conversation as readable plain text, for the output pane.

Each message becomes a heading line (``── assistant ──``) and its text; tool calls are one line each
(``→ shell {"command": "ls"}``) and long tool replies are cut, since the whole reply is in the
database and ``agent-tui show`` prints it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent_tui.core.store import Row

REPLY_LIMIT = 4000
"""Characters of one tool reply shown in the pane."""


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "\n".join(p for p in parts if p)
    return json.dumps(content)


def format_message(message: dict[str, Any]) -> str:
    """One message as a heading and its lines, ending with a newline."""
    role = str(message.get("role", "?"))
    heading = role
    if role == "tool":
        heading = f"tool reply · {message.get('name') or message.get('tool_call_id') or ''}"
    lines = [f"── {heading.strip(' ·')} ──"]
    text = _text(message.get("content"))
    if role == "tool" and len(text) > REPLY_LIMIT:
        text = text[:REPLY_LIMIT] + f"\n… {len(text) - REPLY_LIMIT} more characters"
    if text:
        lines.append(text.rstrip("\n"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        lines.append(f"→ {function.get('name', '?')} {function.get('arguments', '')}".rstrip())
    return "\n".join(lines) + "\n"


def format_rows(rows: Sequence[Row]) -> str:
    """Stored message rows (``content`` as JSON) as text."""
    out = []
    for row in rows:
        try:
            message = json.loads(row["content"]) if row["content"] else {"role": row["role"]}
        except ValueError:
            message = {"role": row["role"], "content": row["content"]}
        out.append(format_message(message))
    return "".join(out)
