"""One model call made reliable: retries per call, one endpoint's concurrency, and its outages.

A call that fails transiently (a 429, a 5xx, a refused connection, an incomplete reply) is retried
with exponential backoff and jitter, honouring Retry-After, for up to ``[llm] retry_window``
seconds counted from when the endpoint started failing. After that the caller makes its goal wait
(:class:`Unreachable`) instead of failing the step. A failed call costs the step nothing: no turn,
no attempt. Each endpoint (``api_base`` or provider) admits ``[llm] max_concurrent`` calls at once,
so a local server is never asked to interrupt the request it is running.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from agent_tui.core import llm

MAX_CALL_DELAY = 20.0
"""Longest pause between two attempts of one call (Retry-After may ask for more)."""
LOCAL_CONCURRENCY = 1
HOSTED_CONCURRENCY = 4


class Unreachable(Exception):
    """The endpoint kept failing for the whole retry window: the goal waits for it."""

    def __init__(self, error: llm.LLMError, endpoint: str, waited: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.endpoint = endpoint
        self.waited = waited
        self.retry_after = error.retry_after


def is_local(api_base: str | None) -> bool:
    """Whether ``api_base`` names this machine or a private network (a self-hosted server)."""
    if not api_base:
        return False
    host = urlparse(api_base).hostname or ""
    if host in ("localhost", "host.docker.internal") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def endpoint_key(choice: llm.ModelChoice) -> str:
    """What identifies a server: its ``api_base``, else the provider part of the model string."""
    if choice.api_base:
        return choice.api_base.rstrip("/")
    return (choice.model or "").split("/", 1)[0] or "provider"


@dataclass
class Endpoint:
    """One model server as this process sees it: a concurrency gate and its failure streak."""

    name: str
    limit: int
    gate: asyncio.Semaphore = field(init=False)
    failing_since: float | None = None
    """When the current streak of failed calls began (``None``: the last call worked)."""
    last_error: llm.LLMError | None = None

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.limit)

    def succeeded(self) -> None:
        self.failing_since = None
        self.last_error = None

    def failed(self, error: llm.LLMError, now: float) -> float:
        """Record a failure; return when the streak began."""
        if self.failing_since is None:
            self.failing_since = now
        self.last_error = error
        return self.failing_since


class Endpoints:
    """The endpoints of one process, created on first use."""

    def __init__(self, max_concurrent: int | None) -> None:
        self.max_concurrent = max_concurrent
        self._by_name: dict[str, Endpoint] = {}

    def get(self, choice: llm.ModelChoice) -> Endpoint:
        name = endpoint_key(choice)
        endpoint = self._by_name.get(name)
        if endpoint is None:
            limit = self.max_concurrent or (
                LOCAL_CONCURRENCY if is_local(choice.api_base) else HOSTED_CONCURRENCY
            )
            endpoint = self._by_name[name] = Endpoint(name, limit)
        return endpoint


def call_delay(attempt: int, base: float, factor: float, retry_after: float | None) -> float:
    """Backoff with jitter (half to all of the delay) for ``attempt`` (1 = the first retry)."""
    delay = min(MAX_CALL_DELAY, base * factor ** max(0, attempt - 1))
    delay *= 0.5 + random.random() / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    window: float
    base: float
    factor: float


Attempt = Callable[[int], Awaitable[llm.Turn]]
"""Makes one attempt (its number, 1-based) and returns the complete reply."""
OnRetry = Callable[[llm.LLMError, float, int], None]
"""Told about each failed attempt that will be retried: error, delay, attempt number."""
Sleep = Callable[[float], Awaitable[None]]


async def call_with_retries(
    endpoint: Endpoint,
    attempt: Attempt,
    policy: RetryPolicy,
    *,
    on_retry: OnRetry,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> llm.Turn:
    """Call until a complete reply arrives, a permanent error is raised, or the window closes.

    Raises :class:`llm.LLMError` (permanent) or :class:`Unreachable` (transient for too long).
    """
    number = 0
    while True:
        number += 1
        async with endpoint.gate:
            try:
                turn = await attempt(number)
            except llm.LLMError as exc:
                error = exc
            else:
                endpoint.succeeded()
                return turn
        if not error.transient:
            endpoint.succeeded()  # the server answered; the error needs a fix, not a wait
            raise error
        now = clock()
        since = endpoint.failed(error, now)
        left = since + policy.window - now
        if left <= 0 or (error.retry_after is not None and error.retry_after > left):
            raise Unreachable(error, endpoint.name, now - since)
        delay = min(left, call_delay(number, policy.base, policy.factor, error.retry_after))
        on_retry(error, delay, number)
        await sleep(delay)
