"""Signed webhooks: a receiver on 127.0.0.1 verifies each delivery on its own (stdlib hmac, as the
README tells receivers to), and refuses a tampered body or a wrong secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.core.webhook_signing import SignatureError, verify
from agent_tui.core.webhooks import WebhookDelivery, WebhookSpec
from tests.functional.test_webhooks import _completed_goal, _drain, _events

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def receiver_accepts(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does, written from the Standard Webhooks spec, not from agent-tui's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 300:
        return False
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(sig, expected) for sig in headers["webhook-signature"].split())


@dataclass
class Signed:
    """A receiver: 204 for a delivery whose signature verifies, 401 for any other."""

    url: str
    accepted: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
def signed() -> Iterator[Signed]:
    state = Signed("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                ok = receiver_accepts(SECRET, headers, body)
            except (KeyError, ValueError):
                ok = False
            if ok:
                state.accepted.append((headers, body))
            else:
                state.refused += 1
            self.send_response(204 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


async def test_a_signed_delivery_verifies_and_a_tampered_body_is_refused(
    store: Store, settings: Settings, signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=signed.url, secret="${HOOK_SECRET}")])

    assert await _drain(hooks) == 1
    await hooks.close()
    assert signed.refused == 0
    [(headers, body)] = signed.accepted
    event = json.loads(body)
    assert event["event"] == "goal.completed"
    assert headers["webhook-id"] == f"msg_{event['id']}"
    assert headers["webhook-signature"].startswith("v1,")
    verify(SECRET, headers, body)  # the helper agrees with the independent receiver

    tampered = body.replace(b"completed", b"cancelled")
    assert tampered != body
    replay = {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    answer = httpx.post(signed.url, content=tampered, headers=replay)
    assert answer.status_code == 401 and signed.refused == 1
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(SECRET, headers, tampered)
    with pytest.raises(SignatureError, match="away from now"):
        verify(SECRET, headers, body, now=time.time() + 3600)


async def test_a_wrong_secret_is_refused_and_recorded_as_failed(
    store: Store, settings: Settings, signed: Signed
) -> None:
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes here!").decode()
    await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=signed.url, secret=other)], delays=(0.01,))
    await _drain(hooks)
    await hooks.close()
    assert signed.accepted == [] and signed.refused == 2
    [failed] = _events(store, "webhook.failed")
    assert "HTTP 401" in failed["data"]["reason"]


async def test_an_unset_secret_variable_fails_visibly(
    store: Store, settings: Settings, signed: Signed
) -> None:
    await _completed_goal(store, settings)
    spec = WebhookSpec(url=signed.url, secret="${NO_SUCH_SECRET}")
    hooks = WebhookDelivery(store, [spec], delays=(0.01,))
    await _drain(hooks)
    await hooks.close()
    assert signed.accepted == [] and signed.refused == 0
    [failed] = _events(store, "webhook.failed")
    assert "secret: ${NO_SUCH_SECRET} is not set" in failed["data"]["reason"]


def test_unsigned_deliveries_still_carry_the_id_and_timestamp() -> None:
    from agent_tui.core.webhook_signing import headers

    got = headers(None, "msg_7", b"{}", now=1_700_000_000.5)
    assert got == {"webhook-id": "msg_7", "webhook-timestamp": "1700000000"}


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not base64 at all!", "must be whsec_ followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
    ],
)
def test_a_bad_literal_secret_is_a_config_error(secret: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"webhooks": [{"url": "http://127.0.0.1/x", "secret": secret}]})
