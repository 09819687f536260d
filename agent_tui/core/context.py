"""What is sent to the model: a clean conversation that fits the model's context window.

The stored transcript is never changed; only the copy sent is. Assistant messages with nothing in
them are left out (a local server's chat template breaks on them). When the prompt would overflow
the window, older tool outputs are cut first (each with a note saying how much), then the oldest
turns are left out, with a note; the system prompt, the task and the latest turns always stay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent_tui.core import llm

Message = dict[str, Any]
Counter = Callable[[list[Message]], int]

KEEP_RECENT = 4
"""Messages at the end of the conversation that are never shortened."""
CUT_TO = 400
"""Characters of an older tool output kept when it is shortened."""


def window_of(model: str | None, configured: int | None) -> int | None:
    """The model's context window in tokens: ``[llm] context_window``, else litellm's map."""
    if configured:
        return configured
    if not model:
        return None
    litellm = llm.load_litellm()
    try:
        info = litellm.get_model_info(model)
    except Exception:
        return None
    value = info.get("max_input_tokens") or info.get("max_tokens")
    return int(value) if value else None


def reserve_for_reply(window: int) -> int:
    """Tokens kept free for the answer."""
    return max(128, min(4096, window // 8))


def counter_for(model: str | None, tools: list[dict[str, Any]] | None) -> Counter:
    """Counts a prompt's tokens as litellm does for ``model`` (tools included)."""
    litellm = llm.load_litellm()
    wrapped = [{"type": "function", "function": t} for t in tools] if tools else None

    def count(messages: list[Message]) -> int:
        try:
            return int(litellm.token_counter(model=model or "", messages=messages, tools=wrapped))
        except Exception:
            return len(json.dumps(messages)) // 3 + len(json.dumps(tools or [])) // 3

    return count


def clean(messages: list[Message]) -> list[Message]:
    """Leave out assistant messages that carry neither text nor tool calls."""
    return [
        m
        for m in messages
        if not (
            m.get("role") == "assistant"
            and not (m.get("content") or "").strip()
            and not m.get("tool_calls")
        )
    ]


def _cut(message: Message, keep: int) -> Message:
    text = str(message.get("content") or "")
    if len(text) <= keep + 80:
        return message
    note = (
        f"[agent-tui: {len(text) - keep} characters of this earlier tool output were cut to fit "
        "the model's context window; run the tool again if you need them]"
    )
    return {**message, "content": (text[:keep] + "\n" + note) if keep else note}


def _drop_oldest(messages: list[Message], head: int) -> tuple[list[Message], int]:
    """Leave out the oldest turn after the first ``head`` messages (an assistant message goes
    with its tool replies, so none is orphaned); return the new list and how many went."""
    if len(messages) <= head + KEEP_RECENT:
        return messages, 0
    end = head + 1
    while end < len(messages) - 1 and messages[end].get("role") == "tool":
        end += 1
    return messages[:head] + messages[end:], end - head


def fit(messages: list[Message], budget: int, count: Counter) -> tuple[list[Message], str | None]:
    """The conversation to send within ``budget`` tokens, and a note of what was compacted.

    Raises :class:`llm.LLMError` (kind ``overflow``) when even the compacted prompt is too long.
    """
    sent = clean(messages)
    before = count(sent)
    if before <= budget:
        return sent, None
    head = next((i + 1 for i, m in enumerate(sent) if m.get("role") == "user"), 1)
    older = range(head, max(head, len(sent) - KEEP_RECENT))
    for keep in (CUT_TO, 0):
        sent = [
            _cut(m, keep) if i in older and m.get("role") == "tool" else m
            for i, m in enumerate(sent)
        ]
        if count(sent) <= budget:
            return sent, f"older tool outputs cut ({before} → {count(sent)} tokens)"
    dropped = 0
    while count(sent) > budget:
        sent, gone = _drop_oldest(sent, head)
        if not gone:
            break
        dropped += gone
    if count(sent) > budget:  # the latest tool outputs alone are too long: cut them too
        for keep in (CUT_TO * 4, CUT_TO, 0):
            sent = [_cut(m, keep) if m.get("role") == "tool" else m for m in sent]
            if count(sent) <= budget:
                break
        else:
            raise llm.LLMError(
                f"the conversation needs {count(sent)} tokens even compacted; the model's "
                f"window allows {budget}",
                transient=False,
                kind="overflow",
                fix="use a model with a larger context window, or set `[llm] context_window` "
                "to the server's real window",
            )
    if not dropped:
        return sent, f"tool outputs cut ({before} → {count(sent)} tokens)"
    note = {
        "role": "user",
        "content": f"[agent-tui: {dropped} earlier messages were left out to fit the model's "
        "context window; the latest ones follow]",
    }
    sent.insert(head, note)
    return sent, f"{dropped} earlier messages left out ({before} → {count(sent)} tokens)"
