"""Models through litellm: choosing one, one streamed call, and errors sorted into transient or not.

litellm is imported lazily (2–3 s) and never on an event loop: call :func:`load_litellm` through
``asyncio.to_thread`` (the executor warms it up at start). ``LITELLM_LOCAL_MODEL_COST_MAP`` is set
before the import so it never reaches for the network.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROVIDER_KEYS: list[tuple[str, str]] = [
    ("ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "openai/gpt-4.1-mini"),
    ("GEMINI_API_KEY", "gemini/gemini-2.5-flash"),
    ("OPENROUTER_API_KEY", "openrouter/anthropic/claude-sonnet-4.5"),
    ("MISTRAL_API_KEY", "mistral/mistral-large-latest"),
]
OLLAMA_URL = "http://127.0.0.1:11434"
HOW_TO_CONFIGURE = (
    "set AGENT_TUI_MODEL (a litellm model string such as anthropic/claude-sonnet-4-5) or "
    '`model = "..."` in config.toml, export a provider key (ANTHROPIC_API_KEY, OPENAI_API_KEY, '
    "GEMINI_API_KEY, OPENROUTER_API_KEY, MISTRAL_API_KEY), or start Ollama"
)

_lock = threading.Lock()
_litellm: Any = None


def litellm_loaded() -> bool:
    """Whether litellm is imported already (its model map can be read without waiting)."""
    return _litellm is not None


def load_litellm() -> Any:
    """Import litellm once (blocking, 2–3 s): call it off the event loop."""
    global _litellm
    with _lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            # No litellm callbacks are used here: its per-chunk success logging only costs time.
            litellm.disable_streaming_logging = True
            _route_logging()
            _litellm = litellm
    return _litellm


LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def _route_logging() -> None:
    """LiteLLM's loggers print INFO lines to stdout; send them to agent-tui's log instead."""
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model to use and why; ``model`` is ``None`` when none is available."""

    model: str | None
    why: str
    api_base: str | None = None


def _ollama_model(url: str, timeout: float = 0.3) -> str | None:
    import httpx

    try:
        reply = httpx.get(f"{url.rstrip('/')}/api/tags", timeout=timeout)
        models = reply.json().get("models") or []
    except (httpx.HTTPError, ValueError):
        return None
    return f"ollama_chat/{models[0]['name']}" if models else None


def choose_model(
    configured: str | None,
    api_base: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    probe_ollama: bool = True,
    ollama_url: str = OLLAMA_URL,
) -> ModelChoice:
    """Config (or ``AGENT_TUI_MODEL``, already merged into it), then provider keys, then Ollama
    at ``ollama_url`` (``[llm] ollama_url``; empty: not probed)."""
    env = os.environ if environ is None else environ
    if configured:
        return ModelChoice(configured, "configured", api_base)
    for key, model in PROVIDER_KEYS:
        if env.get(key):
            return ModelChoice(model, f"{key} is set", api_base)
    if probe_ollama and ollama_url and (local := _ollama_model(ollama_url)):
        return ModelChoice(local, f"Ollama is running at {ollama_url}", api_base or ollama_url)
    return ModelChoice(None, f"no model: {HOW_TO_CONFIGURE}")


class LLMError(Exception):
    """A failed model call: ``transient`` ones are retried with backoff, others need a fix.

    ``kind`` sorts them further: ``incomplete`` (the reply never finished, or said nothing),
    ``overflow`` (the prompt is longer than the model's window), ``unreachable`` (no answer from
    the server), ``rate limit``, or ``error``.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        fix: str = "",
        kind: str = "error",
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        self.fix = fix
        self.kind = kind


class IncompleteReply(LLMError):
    """A stream that ended without the provider's finish reason, or a reply with nothing in it.

    Never an answer: it is retried, and never shown to the model or stored as its reply.
    """

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(f"incomplete reply: {message}", transient=True, kind="incomplete")
        self.partial = partial


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class Turn:
    """One model reply, assembled from its stream."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    estimated: bool = False
    """True when the provider reported no usage and the token counts are litellm's estimate."""
    finish_reason: str | None = None

    def message(self) -> dict[str, Any]:
        """The reply as an OpenAI-format assistant message, for the transcript."""
        out: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return out


def _retry_after(exc: Exception) -> float | None:
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


UNREACHABLE = {
    "APIConnectionError",
    "ConnectError",
    "ConnectTimeout",
    "RemoteProtocolError",
    "ReadError",
}


def classify(exc: Exception, model: str, api_base: str | None = None) -> LLMError:
    """Sort a provider error into a transient one (retry) or a permanent one (with the fix)."""
    if isinstance(exc, LLMError):
        return exc
    name = type(exc).__name__
    text = str(exc).split("Headers(")[0].strip()[:400]
    where = api_base or "the provider"
    if name == "ContextWindowExceededError":
        return LLMError(
            f"{name}: {text}",
            transient=False,
            kind="overflow",
            fix="the conversation is too long for this model: set `[llm] context_window` to the "
            "server's window so agent-tui compacts it in time",
        )
    if name == "InternalServerError" and "connection error" in text.lower():
        name = "APIConnectionError"
    transient = {
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
        "BadGatewayError",
        "Timeout",
        "APIConnectionError",
        "MidStreamFallbackError",
        "APIError",
        "TimeoutException",
        "ConnectError",
        "ReadError",
        "RemoteProtocolError",
        "ReadTimeout",
        "ConnectTimeout",
    }
    if name in transient:
        if name in UNREACHABLE:
            kind = "unreachable"
            text = f"no answer from {where} ({text})"
        elif name in ("Timeout", "TimeoutException", "ReadTimeout"):
            kind = "unreachable"
            text = f"{where} did not answer in time ({text})"
        else:
            kind = "rate limit" if name == "RateLimitError" else "error"
        return LLMError(
            f"{name}: {text}",
            transient=True,
            retry_after=_retry_after(exc),
            kind=kind,
            fix=_transient_fix(kind, api_base),
        )
    fixes = {
        "AuthenticationError": "the API key was refused: check the provider key in the environment",
        "PermissionDeniedError": "the key may not use this model: check the provider account",
        "NotFoundError": f"the provider does not know model '{model}': fix `model` in "
        "config.toml or AGENT_TUI_MODEL",
        "PaymentRequiredError": "the provider account needs credit",
        "BadRequestError": "the provider refused the request; see the message",
    }
    return LLMError(
        f"{name}: {text}",
        transient=False,
        fix=fixes.get(name, "see the message; then resume the goal"),
    )


def _transient_fix(kind: str, api_base: str | None) -> str:
    if kind == "unreachable" and api_base:
        return (
            f"start the model server at {api_base} (or fix `[llm] api_base` in config.toml); "
            "the goal resumes by itself when it answers"
        )
    if kind == "unreachable":
        return "check the network and the provider's status; the goal resumes by itself"
    if kind == "rate limit":
        return "the provider limits the request rate; the goal resumes when the window opens"
    return "the provider failed; the goal resumes by itself when it answers again"


async def complete(
    choice: ModelChoice,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    on_text: Callable[[str], None] | None = None,
    timeout: float = 120.0,
    extra: dict[str, Any] | None = None,
) -> Turn:
    """One streamed call; text goes to ``on_text`` as it arrives. Raises :class:`LLMError`."""
    litellm = _litellm or await asyncio.to_thread(load_litellm)
    assert choice.model is not None
    kwargs: dict[str, Any] = {
        "model": choice.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "timeout": timeout,
        "max_retries": 0,
        **(extra or {}),
    }
    if choice.api_base:
        kwargs["api_base"] = choice.api_base
    if tools:
        kwargs["tools"] = [{"type": "function", "function": t} for t in tools]
    chunks: list[Any] = []
    streamed: list[str] = []
    try:
        stream = await litellm.acompletion(**kwargs)
        async for chunk in stream:
            chunks.append(chunk)
            for choice_delta in chunk.choices or []:
                delta = choice_delta.delta
                if delta is not None and delta.content:
                    streamed.append(delta.content)
                    if on_text is not None:
                        on_text(delta.content)
    except Exception as exc:  # provider errors come in many classes; sort them
        error = classify(exc, choice.model, choice.api_base)
        if error.kind == "error" and type(exc).__name__ == "MidStreamFallbackError":
            error = IncompleteReply("the stream broke off before it finished", "".join(streamed))
        raise error from exc
    # litellm ends every stream with a finish reason of its own; only the provider's counts.
    finish = getattr(stream, "received_finish_reason", None)
    if not finish:
        raise IncompleteReply("the stream ended without a finish reason", "".join(streamed))
    turn = _assemble(chunks, "".join(streamed), finish)
    turn.finish_reason = finish
    usage = next((c.usage for c in reversed(chunks) if getattr(c, "usage", None)), None)
    if usage is not None:
        turn.prompt_tokens = usage.prompt_tokens
        turn.completion_tokens = usage.completion_tokens
        turn.estimated = not _provider_reported_usage(stream)
        turn.cost = _cost(litellm, choice.model, usage.prompt_tokens, usage.completion_tokens)
    return turn


_unpriced: set[str] = set()
"""Models litellm has no price for (asked once per process: the lookup is slow)."""


def _cost(litellm: Any, model: str, prompt: int | None, completion: int | None) -> float | None:
    if model in _unpriced or prompt is None or completion is None:
        return None
    try:
        costs = litellm.cost_per_token(
            model=model, prompt_tokens=prompt, completion_tokens=completion
        )
        return float(sum(costs))
    except Exception:
        _unpriced.add(model)
        return None


def _provider_reported_usage(stream: Any) -> bool:
    """Whether the provider sent usage figures; litellm adds its own estimate when it did not
    (only the chunks it received from the provider keep a ``usage``)."""
    received = getattr(stream, "chunks", None)
    if received is None:
        return True
    return any(getattr(c, "usage", None) is not None for c in received)


def _assemble(chunks: list[Any], streamed: str, finish: str) -> Turn:
    """The reply from its stream's deltas; :class:`IncompleteReply` if it is empty or cut.

    Tool calls arrive in pieces joined by ``index``. Arguments that are not JSON in a reply the
    provider finished normally are the model's own mistake (the agent tells it so); cut off by
    the length limit they are an incomplete reply.
    """
    calls: dict[int, list[str]] = {}
    for chunk in chunks:
        for choice in chunk.choices or []:
            delta = choice.delta
            for piece in (getattr(delta, "tool_calls", None) or []) if delta else []:
                entry = calls.setdefault(piece.index or 0, ["", "", ""])
                if piece.id and not entry[0]:
                    entry[0] = piece.id
                function = piece.function
                if function is not None:
                    if function.name and not entry[1]:
                        entry[1] = function.name
                    entry[2] += function.arguments or ""
    turn = Turn(content=streamed)
    for index in sorted(calls):
        call_id, name, arguments = calls[index]
        if not name:
            raise IncompleteReply("a tool call without a name", streamed)
        if finish == "length":
            try:
                parse_arguments(arguments)
            except ValueError as exc:
                raise IncompleteReply(
                    f"tool call {name[:60]} cut at the length limit: {exc}", streamed
                ) from None
        turn.tool_calls.append(ToolCall(call_id or f"call_{len(turn.tool_calls)}", name, arguments))
    if not streamed.strip() and not turn.tool_calls:
        raise IncompleteReply("the model's reply was empty", streamed)
    return turn


def parse_arguments(raw: str) -> dict[str, Any]:
    """A tool call's JSON arguments as a dict; raises ``ValueError`` with a short reason."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, not {type(value).__name__}")
    return value
