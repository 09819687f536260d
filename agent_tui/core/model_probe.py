"""Checking a model for real: is its server there, which models does it list, does it answer.

``doctor`` and the welcome run :func:`check` (list the models, then one tiny completion with a
short timeout). The executor runs :func:`reachable` on a timer for goals that wait for an
unreachable server, and resumes them when it answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from agent_tui.core import llm


@dataclass(frozen=True, slots=True)
class Probe:
    """What a check found: ``ok`` with what answered and how long it took, or what failed."""

    ok: bool
    detail: str
    seconds: float = 0.0
    models: list[str] = field(default_factory=list)
    fix: str = ""


def _models_url(api_base: str) -> str:
    return api_base.rstrip("/") + "/models"


async def reachable(api_base: str | None, timeout: float = 3.0) -> Probe:
    """Whether the server at ``api_base`` answers (any HTTP answer counts); ``ok`` without one."""
    if not api_base:
        return Probe(True, "a hosted provider: the next call checks it")
    start = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            reply = await client.get(_models_url(api_base))
    except httpx.HTTPError as exc:
        return Probe(False, f"no answer from {api_base}: {type(exc).__name__}: {exc}"[:300])
    took = time.monotonic() - start
    return Probe(True, f"{api_base} answered (HTTP {reply.status_code})", took)


def _list_models(api_base: str, timeout: float) -> tuple[list[str], str | None]:
    try:
        reply = httpx.get(_models_url(api_base), timeout=timeout)
    except httpx.HTTPError as exc:
        return [], f"{type(exc).__name__}: {exc}"
    if reply.status_code != 200:
        return [], None  # not every server lists its models; the completion decides
    try:
        data = reply.json().get("data") or []
        return [str(m.get("id")) for m in data if isinstance(m, dict)], None
    except (ValueError, AttributeError):
        return [], None


async def check(choice: llm.ModelChoice, timeout: float = 10.0) -> Probe:
    """List the server's models (with an ``api_base``) and ask for one tiny completion."""
    if choice.model is None:
        return Probe(False, choice.why, fix=llm.HOW_TO_CONFIGURE)
    models: list[str] = []
    if choice.api_base:
        import asyncio

        models, error = await asyncio.to_thread(_list_models, choice.api_base, min(timeout, 5.0))
        if error is not None:
            return Probe(
                False,
                f"no answer from {choice.api_base}: {error}"[:300],
                fix=f"start the model server at {choice.api_base}, or fix `[llm] api_base` "
                "in config.toml",
            )
    start = time.monotonic()
    try:
        turn = await llm.complete(
            choice,
            [{"role": "user", "content": "Reply with the single word: ready"}],
            timeout=timeout,
            extra={"max_tokens": 16},
        )
    except llm.LLMError as exc:
        fix = exc.fix or "see the message"
        if exc.kind == "incomplete":
            fix = (
                "the server ended the reply without finishing it: check its log (a local server "
                "may need a larger context or fewer parallel requests)"
            )
        return Probe(False, str(exc)[:300], time.monotonic() - start, models, fix)
    took = time.monotonic() - start
    said = " ".join(turn.content.split())[:40]
    where = choice.api_base or "the provider"
    return Probe(True, f"{choice.model} at {where} answered “{said}”", took, models)
