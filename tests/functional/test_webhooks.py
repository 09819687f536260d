"""Webhooks over real HTTP to a receiver on 127.0.0.1, fed by goals the real executor ran."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.executor import Executor
from agent_tui.core.store import Store, open_store
from agent_tui.core.webhooks import CURSOR_KEY, WebhookDelivery, WebhookSpec
from tests.helpers import add, echo, run_idle, shell

FAST = (0.01, 0.01, 0.01, 0.01)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """A webhook receiver: ``/ok`` answers 200, ``/flaky`` 500 twice then 200, ``/down`` 500,
    ``/slow`` 200 once the test sets ``release`` (no race with a fixed delay)."""

    url: str
    got: list[Received] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r.body for r in self.got if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            path = self.path.split("?")[0]
            with lock:
                count = state.hits[path] = state.hits.get(path, 0) + 1
            if path == "/slow":
                state.release.wait(60)
            ok = path in ("/ok", "/slow") or (path == "/flaky" and count > 2)
            if ok:
                with lock:
                    state.got.append(Received(path, dict(self.headers), json.loads(raw)))
            body = b"ok" if ok else b"broken"
            try:
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its timeout)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


async def _completed_goal(store: Store, settings: Settings, title: str = "Webhook me") -> int:
    goal = add(store, {"title": title, "steps": [echo("hello", "hi")]})
    await run_idle(store, settings)
    return goal


async def _drain(hooks: WebhookDelivery, timeout: float = 10.0) -> int:
    """Call ``deliver_due`` as the executor's job would until nothing is due, sent or retried."""
    delivered = 0
    deadline = time.monotonic() + timeout
    while True:
        delivered += await hooks.deliver_due()
        await hooks.wait_sent()
        if not hooks.pending:
            delivered += await hooks.deliver_due()  # counts the last ones; claims what they made
            if not hooks.pending:
                return delivered
        assert time.monotonic() < deadline, "deliveries still pending"
        await asyncio.sleep(0.01)


def _events(store: Store, kind: str) -> list[dict[str, Any]]:
    rows = store.all("SELECT * FROM events WHERE kind = ? ORDER BY id", (kind,))
    for row in rows:
        row["data"] = json.loads(row["data"]) if row["data"] else {}
    return rows


async def test_goal_completed_is_posted_once(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    goal = await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=f"{receiver.url}/ok?secret=x")])

    assert await _drain(hooks) == 1
    assert await _drain(hooks) == 0
    [got] = receiver.got
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Agent-Tui-Event"] == "goal.completed"
    body = got.body
    assert body["event"] == "goal.completed"
    assert got.headers["X-Agent-Tui-Delivery"] == str(body["id"])
    assert body["goal"]["id"] == goal
    assert body["goal"]["title"] == "Webhook me"
    assert body["goal"]["status"] == "completed"
    assert body["goal"]["steps_done"] == body["goal"]["steps_total"] == 1
    assert isinstance(body["ts"], float) and body["message"]
    event = store.one("SELECT * FROM events WHERE id = ?", (body["id"],))
    assert event is not None and event["kind"] == "goal.completed"
    assert store.setting(CURSOR_KEY) == store.last_event_id()


async def test_the_cursor_is_shared_by_every_process(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    """Two stores (as two processes would have) deliver each event once between them."""
    await _completed_goal(store, settings, "first")
    other = store.reopen()
    try:
        spec = WebhookSpec(url=f"{receiver.url}/ok")
        mine, theirs = WebhookDelivery(store, [spec]), WebhookDelivery(other, [spec])
        assert await _drain(theirs) == 1
        assert await _drain(mine) == 0
        await _completed_goal(store, settings, "second")
        assert await _drain(mine) + await _drain(theirs) == 1
        await mine.close()
        await theirs.close()
    finally:
        other.close()
    assert [b["goal"]["title"] for b in receiver.bodies("/ok")] == ["first", "second"]


async def test_approval_requested_names_what_would_run(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    goal = add(store, {"title": "Ask", "steps": [shell("touch", "echo webhook-marker")]})
    await run_idle(store, settings)
    hooks = WebhookDelivery(
        store, [WebhookSpec(url=f"{receiver.url}/ok", events=["approval.requested"])]
    )
    assert await _drain(hooks) == 1
    [body] = receiver.bodies("/ok")
    assert body["event"] == "approval.requested"
    assert body["goal"]["id"] == goal and body["goal"]["status"] == "waiting"
    assert body["approval"]["detail"] == "$ echo webhook-marker"
    assert body["approval"]["status"] == "pending"


async def test_a_failing_receiver_is_retried(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=f"{receiver.url}/flaky")], delays=FAST)
    assert await hooks.deliver_due() == 0
    await hooks.wait_sent()
    assert len(hooks.pending) == 1 and hooks.pending[0].last_error == "HTTP 500"
    assert await _drain(hooks) == 1
    assert receiver.hits["/flaky"] == 3
    assert len(receiver.bodies("/flaky")) == 1
    assert not _events(store, "webhook.failed")


async def test_a_receiver_that_never_answers_well_becomes_an_event(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    goal = await _completed_goal(store, settings)
    down = WebhookSpec(
        url=f"{receiver.url}/down/secret-path", events=["goal.completed", "webhook.failed"]
    )
    watcher = WebhookSpec(url=f"{receiver.url}/ok", events=["webhook.failed"])
    hooks = WebhookDelivery(store, [down, watcher], delays=FAST)
    await _drain(hooks)
    assert receiver.hits["/down/secret-path"] == 5
    [failed] = _events(store, "webhook.failed")
    assert failed["goal_id"] == goal
    assert "after 5 attempts: HTTP 500" in failed["message"]
    assert "secret-path" not in failed["message"] and "secret-path" not in json.dumps(
        failed["data"]
    )
    assert failed["data"]["event_kind"] == "goal.completed"
    assert failed["data"]["attempts"] == 5

    await _drain(hooks)  # the failure itself goes to the other receiver, never back to itself
    assert receiver.hits["/down/secret-path"] == 5
    [told] = receiver.bodies("/ok")
    assert told["event"] == "webhook.failed" and told["data"]["reason"].endswith("HTTP 500")


async def test_timeouts_and_unreachable_receivers_are_failures(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _completed_goal(store, settings)
    slow = WebhookSpec(url=f"{receiver.url}/slow", timeout=0.2)
    hooks = WebhookDelivery(store, [slow], delays=())
    await hooks.deliver_due()
    await hooks.wait_sent()
    [failed] = _events(store, "webhook.failed")
    assert "no answer within 0.2 s" in failed["message"]

    await _completed_goal(store, settings, "again")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = WebhookSpec(url=f"http://127.0.0.1:{port}/nothing-listens")
    hooks = WebhookDelivery(store, [closed], delays=())
    await hooks.deliver_due()
    await hooks.wait_sent()
    assert "ConnectError" in _events(store, "webhook.failed")[-1]["message"]


async def test_a_slow_receiver_holds_up_no_other(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _completed_goal(store, settings)
    slow, fast = WebhookSpec(url=f"{receiver.url}/slow"), WebhookSpec(url=f"{receiver.url}/ok")
    hooks = WebhookDelivery(store, [slow, fast])
    assert await hooks.deliver_due() == 0  # returns at once: the POSTs run in the background
    # /ok received, and its POST over on this side too (a receiver stores the body before it
    # answers, so the two moments differ, by much on a loaded machine), while /slow is held.
    deadline = time.monotonic() + 10
    while not (receiver.bodies("/ok") and [d.spec for d in hooks.pending if d.sending] == [slow]):
        assert time.monotonic() < deadline, [d.spec.url for d in hooks.pending if d.sending]
        await asyncio.sleep(0.01)
    receiver.release.set()
    await hooks.wait_sent()
    assert await hooks.deliver_due() == 2


async def test_headers_read_secrets_from_the_environment_not_the_payload(
    store: Store, settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name only the config calls secret, through the one way front ends open the database.
    monkeypatch.setenv("HOOK_AUTH", "s3cret-value-123")
    settings.secrets.names = ["HOOK_AUTH"]
    store.close()
    store = open_store(settings, store.path)
    goal = add(store, {"title": "Say s3cret-value-123", "steps": [echo("x", "s3cret-value-123")]})
    await run_idle(store, settings)
    spec = WebhookSpec(url=f"{receiver.url}/ok", headers={"Authorization": "Bearer ${HOOK_AUTH}"})
    hooks = WebhookDelivery(store, [spec])
    assert await _drain(hooks) == 1
    [got] = receiver.got
    assert got.headers["Authorization"] == "Bearer s3cret-value-123"
    assert got.body["goal"]["id"] == goal
    assert "s3cret-value-123" not in json.dumps(got.body)
    assert "[redacted:HOOK_AUTH]" in json.dumps(got.body)


async def test_old_events_and_unlisted_kinds_are_not_sent(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=f"{receiver.url}/ok")], stale_after=0)
    assert await _drain(hooks) == 0
    assert store.setting(CURSOR_KEY) == store.last_event_id()
    only_failures = WebhookDelivery(
        store, [WebhookSpec(url=f"{receiver.url}/ok", events=["goal.failed"])]
    )
    await _completed_goal(store, settings)
    assert await _drain(only_failures) == 0
    assert not receiver.got


async def test_close_records_deliveries_still_waiting(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=f"{receiver.url}/down")], delays=(60,))
    await hooks.deliver_due()
    await hooks.wait_sent()
    assert hooks.pending
    await hooks.close()
    [failed] = _events(store, "webhook.failed")
    assert "agent-tui stopped" in failed["message"] and "HTTP 500" in failed["message"]


async def test_close_sends_what_was_not_claimed_yet(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    """``worker --until-idle`` stops right after the goal completes: the event still goes out."""
    await _completed_goal(store, settings)
    hooks = WebhookDelivery(store, [WebhookSpec(url=f"{receiver.url}/ok")])
    await hooks.close()
    assert [b["event"] for b in receiver.bodies("/ok")] == ["goal.completed"]


def test_the_config_shape() -> None:
    spec = WebhookSpec.model_validate({"url": "https://hooks.example.com/services/T0/B0/XYZ"})
    assert spec.events == ["goal.completed", "goal.failed", "approval.requested"]
    assert spec.shown == "https://hooks.example.com/…"
    for bad in (
        {"url": "ftp://x"},
        {"url": "http://"},
        {"url": "https://x", "events": ["completed"]},
        {"url": "https://x", "method": "PUT"},
    ):
        with pytest.raises(ValidationError):
            WebhookSpec.model_validate(bad)


async def test_the_executor_posts_while_it_runs_and_by_its_stop(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    """With ``[[webhooks]]`` set, a running executor delivers on its own: the approval a step
    asks for is posted while the executor waits on it; the completion, at the latest when it
    stops."""
    settings.webhooks = [WebhookSpec(url=f"{receiver.url}/ok")]
    goal = add(store, {"title": "Ask first", "steps": [shell("s", "echo hi")]})
    executor = Executor(store, settings)
    await executor.start()
    try:
        deadline = time.monotonic() + 30
        while not receiver.bodies("/ok"):
            assert time.monotonic() < deadline, "no webhook delivered by the running executor"
            await asyncio.sleep(0.05)
        [asked] = receiver.bodies("/ok")
        assert asked["event"] == "approval.requested" and asked["goal"]["id"] == goal
        [approval] = store.all("SELECT id FROM approvals WHERE status = 'pending'")
        control.approve(store, approval["id"])
        await asyncio.wait_for(executor.run_until_idle(), 30)
    finally:
        await executor.stop()
    events = [b["event"] for b in receiver.bodies("/ok")]
    assert events == ["approval.requested", "goal.completed"]
