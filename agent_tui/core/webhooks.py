"""Webhooks: JSON POSTs when a goal completes or fails and when an approval is needed.

Delivery reads the ``events`` journal from a cursor kept in the ``settings`` table, so events made by
any process are delivered once, by whichever executor process claims them first: a claim advances
the cursor inside a ``BEGIN IMMEDIATE`` transaction. A POST that fails (no answer, a timeout, a
status other than 2xx) is retried with backoff; after the last attempt it becomes a
``webhook.failed`` event with the reason.

Every attempt carries the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``) and, for a
webhook with a ``secret``, ``webhook-signature`` (see :mod:`agent_tui.core.webhook_signing`).

Retries live in the memory of the process that claimed the event: if it dies before its last
attempt, those deliveries are lost (a clean stop records them as ``webhook.failed``). Events older
than :data:`STALE_AFTER` when first seen are skipped, so turning webhooks on does not replay history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent_tui import __version__

if TYPE_CHECKING:  # the config imports this module for WebhookSpec: keep that import light
    import asyncio

    import httpx

    from agent_tui.core.store import Event, Store

log = logging.getLogger("agent_tui.webhooks")

CURSOR_KEY = "webhooks.cursor"
DEFAULT_EVENTS = ("goal.completed", "goal.failed", "approval.requested")
DELAYS = (4.0, 8.0, 16.0, 32.0)
"""Seconds before the 2nd, 3rd, 4th and 5th attempt: five attempts over about a minute."""
STALE_AFTER = 3600.0
"""Events older than this (seconds) when a process first claims them are not delivered."""
BATCH = 200
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KIND = re.compile(r"^[a-z_]+\.[a-z_]+$")


class WebhookSpec(BaseModel):
    """One ``[[webhooks]]`` entry: where to POST, which events, which extra headers."""

    model_config = ConfigDict(extra="forbid")

    url: str
    """An http:// or https:// URL that receives one JSON POST per event."""
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    """Event kinds to send, for example ``goal.completed``, ``goal.failed``,
    ``approval.requested`` (the default), ``webhook.failed``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers; ``${NAME}`` in a value is read from the environment when sending,
    so a token need not be written in the config file."""
    timeout: float = Field(10.0, gt=0, le=120)
    """Seconds one POST may take (connecting included) before it counts as failed."""
    secret: str | None = None
    """Signs every delivery (Standard Webhooks: ``webhook-signature``): ``whsec_`` and base64, or
    ``${NAME}`` to read it from the environment when sending."""

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_REF.search(value):
            from agent_tui.core.webhook_signing import secret_key

            secret_key(value)  # a SignatureError is a ValueError: one line naming the key
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("events")
    @classmethod
    def _event_kinds(cls, value: list[str]) -> list[str]:
        for kind in value:
            if not _KIND.match(kind):
                raise ValueError(f"{kind!r} is not an event kind (such as goal.completed)")
        return value

    @property
    def key(self) -> str:
        """A short stable id (the URL may hold a secret, so it is never shown whole)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:12]

    @property
    def shown(self) -> str:
        """The URL's origin only: webhook URLs often carry a secret in their path."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


@dataclass
class Delivery:
    """One event on its way to one webhook."""

    spec: WebhookSpec
    event: Event
    payload: bytes
    attempts: int = 0
    due: float = 0.0
    last_error: str = ""
    sending: bool = False


class WebhookDelivery:
    """Claims new events from the journal and POSTs them, retrying failures in memory.

    :meth:`deliver_due` is meant to be called about every second (an executor job). Each call claims
    a batch and starts sending whatever is due in the background, so one slow receiver delays
    neither the others nor the job; it returns how many deliveries succeeded since the last call.
    """

    def __init__(
        self,
        store: Store,
        specs: Sequence[WebhookSpec],
        *,
        client: httpx.AsyncClient | None = None,
        delays: Sequence[float] = DELAYS,
        stale_after: float = STALE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.specs = list(specs)
        self.delays = tuple(delays)
        self.stale_after = stale_after
        self.clock = clock
        self.pending: list[Delivery] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._delivered = 0
        self._client = client
        self._own_client = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                headers={"User-Agent": f"agent-tui/{__version__}"}, follow_redirects=False
            )
        return self._client

    async def deliver_due(self) -> int:
        """Claim new events and start sending what is due; deliveries done since the last call."""
        self._start_due()
        delivered, self._delivered = self._delivered, 0
        return delivered

    def _start_due(self) -> None:
        import asyncio

        if not self.specs:
            return
        for event in self.claim():
            self._queue(event)
        now = self.clock()
        for delivery in self.pending:
            if delivery.due <= now and not delivery.sending:
                delivery.sending = True
                task = asyncio.create_task(self._attempt(delivery))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def wait_sent(self) -> None:
        """Wait for the POSTs under way (each is bounded by its webhook's timeout)."""
        import asyncio

        while self._sending:
            await asyncio.wait(set(self._sending))

    def claim(self) -> list[Event]:
        """Advance the shared cursor past every new event and return the fresh ones.

        A read first, so an idle journal costs no write lock; the claim itself is one
        ``BEGIN IMMEDIATE`` transaction, so two processes never claim the same event.
        """
        cursor = int(self.store.setting(CURSOR_KEY, 0))
        if self.store.last_event_id() <= cursor:
            return []
        with self.store.write() as tx:
            cursor = int(self.store.setting(CURSOR_KEY, 0))
            events = self.store.events_after(cursor, limit=BATCH)
            if not events:
                return []
            self.store.set_setting(CURSOR_KEY, events[-1].id, tx)
            oldest = tx.now - self.stale_after
        return [e for e in events if e.ts >= oldest]

    def _queue(self, event: Event) -> None:
        payload: bytes | None = None
        for spec in self.specs:
            if event.kind not in spec.events:
                continue
            if event.kind == "webhook.failed" and event.data.get("webhook") == spec.key:
                continue  # a receiver that fails is not told about its own failure
            payload = payload or self._payload(event)
            self.pending.append(Delivery(spec, event, payload, due=self.clock()))

    def _payload(self, event: Event) -> bytes:
        from agent_tui.core.store.views import goal_row, goal_summary
        from agent_tui.core.store.webhooks import approval

        goal = None
        if event.goal_id is not None:
            row = goal_row(self.store, event.goal_id)
            goal = goal_summary(self.store, row) if row else None
        body: dict[str, Any] = {
            "id": event.id,
            "event": event.kind,
            "ts": event.ts,
            "message": event.message,
            "goal": goal,
            "data": event.data,
        }
        approval_id = event.data.get("approval_id")
        if event.kind == "approval.requested" and approval_id is not None:
            body["approval"] = approval(self.store, approval_id)
        text = json.dumps(body, default=str, ensure_ascii=False)
        if self.store.redactor:
            text = self.store.redactor.redact(text)
        return text.encode("utf-8")

    async def _attempt(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        try:
            error = await self._post(delivery)
        except Exception as exc:  # never let one receiver stop the others
            error = f"{type(exc).__name__}: {exc}"
        finally:
            delivery.sending = False
        if error is None:
            self.pending.remove(delivery)
            self._delivered += 1
            return
        delivery.last_error = error
        if delivery.attempts > len(self.delays):
            self.pending.remove(delivery)
            try:
                self._record_failure(delivery, f"after {delivery.attempts} attempts: {error}")
            except Exception:
                log.exception("could not record a failed webhook")
        else:
            delivery.due = self.clock() + self.delays[delivery.attempts - 1]
            log.info(
                "webhook %s: %s for event %d; retrying in %.0f s",
                delivery.spec.shown,
                error,
                delivery.event.id,
                delivery.due - self.clock(),
            )

    async def _post(self, delivery: Delivery) -> str | None:
        """POST once; ``None`` on a 2xx answer, else the reason."""
        import httpx

        from agent_tui.core.webhook_signing import headers as signed

        spec = delivery.spec
        headers = {
            "Content-Type": "application/json",
            "X-Agent-Tui-Event": delivery.event.kind,
            "X-Agent-Tui-Delivery": str(delivery.event.id),
        }
        for name, value in spec.headers.items():
            headers[name] = _expand(value, name)
        secret = _expand(spec.secret, "secret") if spec.secret else None
        headers.update(signed(secret, f"msg_{delivery.event.id}", delivery.payload))
        try:
            response = await self.client.post(
                spec.url, content=delivery.payload, headers=headers, timeout=spec.timeout
            )
        except httpx.TimeoutException:
            return f"no answer within {spec.timeout:g} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _record_failure(self, delivery: Delivery, reason: str) -> None:
        event = delivery.event
        log.warning("webhook %s: event %d not delivered %s", delivery.spec.shown, event.id, reason)
        with self.store.write() as tx:
            tx.event(
                "webhook.failed",
                f"webhook {delivery.spec.shown} did not take {event.kind} (event {event.id}) "
                f"{reason}",
                goal_id=event.goal_id,
                webhook=delivery.spec.key,
                url=delivery.spec.shown,
                event_id=event.id,
                event_kind=event.kind,
                attempts=delivery.attempts,
                reason=reason,
            )

    async def close(self) -> None:
        """Send the last events once (a goal that just completed), let the POSTs end, record what
        still waits for a retry as failed, then close the HTTP client."""
        try:
            self._start_due()
        except Exception:
            log.exception("could not claim the last webhook events")
        await self.wait_sent()
        left, self.pending = self.pending, []
        for delivery in left:
            why = delivery.last_error or "not sent"
            try:
                self._record_failure(
                    delivery, f"before its retries ended (agent-tui stopped; last error: {why})"
                )
            except Exception:
                log.exception("could not record an undelivered webhook")
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def _expand(value: str, header: str) -> str:
    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            what = header if header == "secret" else f"header {header}"
            raise ValueError(f"{what}: ${{{name}}} is not set in the environment")
        return os.environ[name]

    return _ENV_REF.sub(lookup, value)
