"""An agent step's conversation with its model, stored message by message.

Each message is an OpenAI-format dict (role, content, tool_calls, tool_call_id). A crash, an approval
or a restart resumes from the stored messages, so a finished tool call is never made twice.
"""

from __future__ import annotations

import json
from typing import Any

from agent_tui.core.store import Store, Tx
from agent_tui.core.store.panes import messages_after
from agent_tui.core.store.transcripts import append_message, has_messages

Message = dict[str, Any]


def load(store: Store | Tx, step_id: int) -> list[Message]:
    rows = messages_after(store.store if isinstance(store, Tx) else store, step_id)
    return [json.loads(r["content"]) for r in rows]


def append(tx: Tx, step_id: int, message: Message) -> None:
    append_message(tx, step_id, message.get("role", "user"), json.dumps(message))


def unanswered_calls(messages: list[Message]) -> list[dict[str, Any]]:
    """Tool calls of the last assistant message that have no tool reply yet, in order."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "assistant":
            answered = {
                m.get("tool_call_id") for m in messages[index + 1 :] if m.get("role") == "tool"
            }
            return [c for c in message.get("tool_calls") or [] if c.get("id") not in answered]
    return []


def model_turns(messages: list[Message]) -> int:
    """Model replies in ``messages`` since the step was last retried (failed calls store none)."""
    return sum(1 for m in messages[since_retry(messages) :] if m.get("role") == "assistant")


RETRY_MARK = "[agent-tui: the user asked to retry this step"


def retry_note(error: str | None) -> Message:
    """The message a retry adds to a step's conversation."""
    why = f" after it failed: {error}" if error else ""
    return {"role": "user", "content": f"{RETRY_MARK}{why}. Start this attempt afresh.]"}


def since_retry(messages: list[Message]) -> int:
    """Index of the last retry note (0 when the step was never retried)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "user" and str(message.get("content") or "").startswith(
            RETRY_MARK
        ):
            return index
    return 0


def add_retry_note(tx: Tx, step_id: int, error: str | None) -> None:
    """Mark a retry in a step's stored conversation (if it has one)."""
    if has_messages(tx, step_id):
        append(tx, step_id, retry_note(error))


def render(messages: list[Message], *, width: int = 2000) -> list[str]:
    """A conversation as lines for a person: who said what, tool calls with their arguments."""
    lines: list[str] = []
    for message in messages:
        role = message.get("role", "?")
        content = str(message.get("content") or "").strip()
        if role == "tool":
            role = f"tool result ({message.get('tool_call_id', '')})"
        if len(content) > width:
            content = content[:width] + f" … [{len(content) - width} more characters]"
        lines.append(f"[{role}]" + (f" {content}" if content else ""))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            args = str(function.get("arguments") or "")
            if len(args) > width:
                args = args[:width] + " …"
            lines.append(f"  → {function.get('name', '?')}({args})  [{call.get('id', '')}]")
    return lines
