"""``web_fetch`` against DNS rebinding, redirects between local services, and domain allow rules.

The HTTP is real: servers on 127.0.0.1 and 127.0.0.2, each answering with a canary body and
recording every request it gets. The one stand-in is the name-to-address step
(``WebFetchTool.resolve``), since no test can run a DNS server that real names point at; every
answer it gives is recorded, so a test can also count the lookups.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_tui.config import Settings
from agent_tui.core import control
from agent_tui.core.decisions import verdict_for
from agent_tui.core.rules import RuleSpec, remove_rule, save_rule
from agent_tui.core.store import Store
from agent_tui.core.tools.base import ToolContext, ToolError
from agent_tui.core.tools.registry import builtin_tools
from agent_tui.core.tools.web_fetch import REACHES_PRIVATE, WebFetchTool
from tests.helpers import Sink, add, pending_approvals, run_idle, steps

PUBLIC = "93.184.216.34"


@dataclass
class Canary:
    """A server on one loopback address that records what reaches it."""

    address: str
    body: str
    port: int = 0
    seen: list[tuple[str, str]] = field(default_factory=list)
    """``(path, Host header)`` of every request."""

    @property
    def base(self) -> str:
        return f"http://{self.address}:{self.port}"


def _handler(canary: Canary, others: dict[str, Canary]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            canary.seen.append((self.path, self.headers.get("Host", "")))
            if self.path.startswith("/to/"):  # /to/NAME/PATH: a redirect to another server
                _, _, name, rest = self.path.split("/", 3)
                self.answer(302, b"", Location=f"{others[name].base}/{rest}")
            elif self.path.startswith("/here/"):  # a redirect on this same host and port
                self.answer(302, b"", Location="/" + self.path.split("/", 2)[2])
            else:
                self.answer(200, canary.body.encode())

        def answer(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def servers() -> Iterator[dict[str, Canary]]:
    """``loop``: 127.0.0.1; ``other``: 127.0.0.1 on another port; ``two``: 127.0.0.2."""
    canaries = {
        "loop": Canary("127.0.0.1", "CANARY-LOOPBACK-SECRET"),
        "other": Canary("127.0.0.1", "CANARY-OTHER-PORT"),
        "two": Canary("127.0.0.2", "CANARY-127-0-0-2"),
    }
    running = []
    for canary in canaries.values():
        server = ThreadingHTTPServer((canary.address, 0), _handler(canary, canaries))
        server.daemon_threads = True
        canary.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append(server)
    yield canaries
    for server in running:
        server.shutdown()
        server.server_close()


class Dns:
    """Answers for test names, in turn per name (the last answer repeats), and a call log."""

    def __init__(self, **answers: list[list[str]]) -> None:
        self.answers = {name.replace("_", "."): list(seq) for name, seq in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.calls.append(host)
        seq = self.answers[host]
        return seq.pop(0) if len(seq) > 1 else seq[0]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dns]:
    """The executor's own ``web_fetch`` looks names up here."""
    fake = Dns()
    monkeypatch.setattr(builtin_tools()["web_fetch"], "resolve", fake)
    yield fake


def fetch_step(url: str) -> dict[str, Any]:
    return {"id": "get", "tool": "web_fetch", "args": {"url": url}}


def action_of(store: Store, goal: int) -> dict[str, Any]:
    row = store.one("SELECT * FROM actions WHERE goal_id = ? ORDER BY id DESC LIMIT 1", (goal,))
    assert row is not None
    return row


async def approve_and_run(store: Store, settings: Settings) -> None:
    [approval] = pending_approvals(store)
    control.approve(store, approval["id"])
    await run_idle(store, settings)


# --- DNS rebinding --------------------------------------------------------------------------------


async def test_a_name_that_turns_into_loopback_after_the_check_is_never_fetched(
    store: Store, settings: Settings, dns: Dns, servers: dict[str, Canary]
) -> None:
    """Public to the decision, 127.0.0.1 to the fetch: the fetch ends, asking for approval."""
    loop = servers["loop"]
    dns.answers["rebind.test"] = [[PUBLIC], ["127.0.0.1"]]
    goal = add(
        store, {"title": "rebind", "steps": [fetch_step(f"http://rebind.test:{loop.port}/")]}
    )
    await run_idle(store, settings)

    assert loop.seen == [], "the loopback server was reached"
    action = action_of(store, goal)
    assert action["decision"] == "allow", "the decision saw a public address"
    step = steps(store, goal)["get"]
    assert step["status"] == "failed"
    assert "CANARY" not in json.dumps(step["result"]) + str(action["result"])
    assert action["error"] == (
        f"http://rebind.test:{loop.port}/ was not fetched: rebind.test resolves to a loopback "
        "address (127.0.0.1), and reaching this machine or a private network needs a person's "
        "approval, which this action did not have; fetch it again to ask for one"
    )
    assert dns.calls == ["rebind.test", "rebind.test"], "one lookup to decide, one to fetch"


async def test_approving_a_public_looking_name_does_not_cover_its_loopback_answer(
    store: Store, settings: Settings, dns: Dns, servers: dict[str, Canary]
) -> None:
    """Every fetch asks here; the person approved a public name, not this machine."""
    settings.policy.tools["web_fetch"] = "ask"
    loop = servers["loop"]
    dns.answers["rebind.test"] = [[PUBLIC], ["127.0.0.1"]]
    goal = add(
        store, {"title": "rebind", "steps": [fetch_step(f"http://rebind.test:{loop.port}/")]}
    )
    await run_idle(store, settings)
    assert REACHES_PRIVATE not in pending_approvals(store)[0]["detail"] + str(
        action_of(store, goal)["decision_reason"]
    )
    await approve_and_run(store, settings)
    assert loop.seen == []
    assert "was not fetched: rebind.test resolves to a loopback" in action_of(store, goal)["error"]


async def test_an_approved_name_connects_to_the_judged_address_with_its_host_header(
    store: Store, settings: Settings, dns: Dns, servers: dict[str, Canary]
) -> None:
    """``pinned.test`` exists only in the stand-in resolver: the server on 127.0.0.2 is reached
    only because the request goes to the address that was judged, named in Host as asked."""
    two = servers["two"]
    dns.answers["pinned.test"] = [["127.0.0.2"]]
    url = f"http://pinned.test:{two.port}/page"
    goal = add(store, {"title": "pinned", "steps": [fetch_step(url)]})
    await run_idle(store, settings)
    action = action_of(store, goal)
    assert action["status"] == "awaiting_approval"
    assert action["decision_reason"] == (
        f"pinned.test resolves to a loopback address (127.0.0.2): {REACHES_PRIVATE}"
    )
    assert two.seen == []
    await approve_and_run(store, settings)

    assert two.seen == [("/page", f"pinned.test:{two.port}")]
    step = steps(store, goal)["get"]
    assert step["status"] == "completed"
    assert step["result"]["output"] == "CANARY-127-0-0-2"
    assert step["result"]["data"]["final_url"] == url
    assert dns.calls == ["pinned.test", "pinned.test"]


async def test_a_name_with_one_private_address_among_public_ones_asks(dns: Dns) -> None:
    dns.answers["mixed.test"] = [[PUBLIC, "10.0.0.7"]]
    tool = builtin_tools()["web_fetch"]
    assert isinstance(tool, WebFetchTool)
    reason = tool.decision_reason({"url": "https://mixed.test/"})
    assert reason == f"mixed.test resolves to a private address (10.0.0.7): {REACHES_PRIVATE}"


# --- redirects ------------------------------------------------------------------------------------


async def test_an_approved_loopback_fetch_does_not_follow_a_redirect_to_another_port(
    store: Store, settings: Settings, servers: dict[str, Canary]
) -> None:
    loop, other = servers["loop"], servers["other"]
    goal = add(store, {"title": "hop", "steps": [fetch_step(f"{loop.base}/to/other/admin")]})
    await run_idle(store, settings)
    assert action_of(store, goal)["status"] == "awaiting_approval"
    await approve_and_run(store, settings)

    assert loop.seen == [("/to/other/admin", f"127.0.0.1:{loop.port}")]
    assert other.seen == [], "the redirect to another loopback port was followed"
    assert action_of(store, goal)["error"] == (
        f"{loop.base}/to/other/admin redirects to {other.base}/admin, which was not followed: "
        f"127.0.0.1 is a loopback address, and reaching this machine or a private network needs "
        f"its own approval; fetch {other.base}/admin as an action of its own to ask for it"
    )
    assert steps(store, goal)["get"]["status"] == "failed"


async def test_redirects_on_the_approved_host_and_port_and_from_names_are_judged(
    tmp_path: Path, servers: dict[str, Canary]
) -> None:
    """Directly on the tool, with the context an approval gives."""
    loop, two = servers["loop"], servers["two"]
    dns = Dns(**{"pinned.test": [["127.0.0.2"]]})
    tool = WebFetchTool(resolve=dns)

    async def fetch(url: str, reason: str) -> Any:
        ctx = ToolContext(
            workspace=tmp_path,
            emit=Sink(),
            goal_id=1,
            step_id=1,
            action_id=1,
            cancelled=asyncio.Event(),
            decision="ask",
            decision_reason=reason,
        )
        return await tool.run(tool.parse({"url": url}), ctx)

    same = await fetch(f"{loop.base}/here/done", "approved")
    assert same.ok and same.output == "CANARY-LOOPBACK-SECRET"
    assert same.data["redirects"] == [f"{loop.base}/done"]

    approved = tool.decision_reason({"url": f"http://pinned.test:{two.port}/"})
    assert approved is not None
    hop = await fetch(f"http://pinned.test:{two.port}/here/x", approved)
    assert hop.ok and hop.data["final_url"] == f"http://pinned.test:{two.port}/x"
    with pytest.raises(ToolError, match=r"redirects to http://127\.0\.0\.1:\d+/y, which was not"):
        await fetch(f"http://pinned.test:{two.port}/to/loop/y", approved)
    assert [path for path, _ in loop.seen] == ["/here/done", "/done"]
    assert dns.calls == ["pinned.test"] * 3, "one lookup per fetch, redirects to it included"


# --- rules ----------------------------------------------------------------------------------------


async def test_a_domain_allow_rule_for_a_name_that_resolves_to_loopback_asks(
    store: Store, settings: Settings, dns: Dns, servers: dict[str, Canary]
) -> None:
    loop = servers["loop"]
    save_rule(store, RuleSpec(tool="web_fetch", domain="internal.test", decision="allow"))
    dns.answers["internal.test"] = [["127.0.0.1"]]
    goal = add(
        store, {"title": "rule", "steps": [fetch_step(f"http://internal.test:{loop.port}/")]}
    )
    await run_idle(store, settings)

    action = action_of(store, goal)
    assert action["status"] == "awaiting_approval"
    assert action["decision_reason"] == (
        f"internal.test resolves to a loopback address (127.0.0.1): {REACHES_PRIVATE} "
        "(rule 1 allows the name, not that)"
    )
    assert loop.seen == []
    await approve_and_run(store, settings)
    assert [path for path, _ in loop.seen] == ["/"]


async def test_only_a_rule_naming_a_local_address_itself_allows_it(
    store: Store, settings: Settings, servers: dict[str, Canary]
) -> None:
    loop = servers["loop"]
    tool = builtin_tools()["web_fetch"]
    every = save_rule(store, RuleSpec(tool="web_fetch", decision="allow"))
    verdict = await verdict_for(store, settings, tool, {"url": f"{loop.base}/"})
    assert verdict.decision == "ask", "a rule for every fetch does not cover this machine"
    assert every.id is not None
    remove_rule(store, every.id)

    local = save_rule(store, RuleSpec(tool="web_fetch", domain="127.0.0.1", decision="allow"))
    verdict = await verdict_for(store, settings, tool, {"url": f"{loop.base}/"})
    assert verdict.decision == "allow" and verdict.rule is not None
    assert verdict.rule.id == local.id
    other = await verdict_for(store, settings, tool, {"url": "http://10.0.0.1/"})
    assert other.decision == "ask", "the 127.0.0.1 rule does not cover another address"

    goal = add(store, {"title": "ok", "steps": [fetch_step(f"{loop.base}/")]})
    await run_idle(store, settings)
    assert steps(store, goal)["get"]["result"]["output"] == "CANARY-LOOPBACK-SECRET"


# --- https: the name stays the TLS server name ----------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """An https server on 127.0.0.1 with a self-signed certificate for ``tls.test`` only;
    yields its port, the certificate (to trust) and the server names clients sent (SNI)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=tls.test", "-addext", "subjectAltName=DNS:tls.test", "-keyout", str(key),
         "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(str(name)) and None
    canary = Canary("127.0.0.1", "CANARY-TLS")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(canary, {}))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert, names
    server.shutdown()
    server.server_close()


async def test_https_to_a_pinned_address_keeps_the_name_for_sni_and_the_certificate(
    tls_server: tuple[int, Path, list[str]],
) -> None:
    import ssl

    import httpx

    from agent_tui.core.tools.web import pinned_request

    port, cert, names = tls_server
    trust = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(verify=trust, trust_env=False) as http:
        url = httpx.URL(f"https://tls.test:{port}/x")
        response = await http.send(pinned_request(http, "GET", url, "127.0.0.1"))
        assert response.text == "CANARY-TLS"
        assert names == ["tls.test"], "the TLS server name is the URL's name, not the address"

    async with httpx.AsyncClient(verify=trust, trust_env=False) as http:  # a fresh pool
        wrong = httpx.URL(f"https://other.test:{port}/x")
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await http.send(pinned_request(http, "GET", wrong, "127.0.0.1"))
    assert names == ["tls.test", "other.test"]
