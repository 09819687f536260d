"""``web_fetch`` and ``web_search`` over real HTTP against a server on 127.0.0.1.

No test reaches beyond this machine: public addresses are only ever judged as literals.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from agent_tui.config import Settings
from agent_tui.core.tools.base import ToolContext, ToolError, ToolResult, TransientToolError
from agent_tui.core.tools.web import (
    address_kind,
    host_reason,
    transport_error,
)
from agent_tui.core.tools.web_fetch import MAX_BYTES, MAX_REDIRECTS, WebFetchTool
from agent_tui.core.tools.web_search import NOT_CONFIGURED, WebSearchTool

PAGE = """<!doctype html>
<html><head><title>Test page</title><style>body { color: red }</style>
<script>document.write("hidden")</script></head>
<body><h1>Hello</h1><p>Some <b>bold</b> text and a <a href="/next?x=1">link</a>.</p>
<ul><li>first</li><li>second</li></ul></body></html>"""
RUSSIAN = "Съешь же ещё этих мягких французских булок"
STOP = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, b"", "text/plain", Location=location)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        if path == "/html":
            self.send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/cp1251-header":
            body = f"<html><body><p>{RUSSIAN}</p></body></html>".encode("cp1251")
            self.send(200, body, "text/html; charset=windows-1251")
        elif path == "/cp1251-meta":
            html = f'<html><head><meta charset="windows-1251"></head><body><p>{RUSSIAN}</p>'
            self.send(200, html.encode("cp1251"), "text/html")
        elif path == "/latin1":
            self.send(200, "Grüße, café".encode("latin-1"), "text/plain; charset=ISO-8859-1")
        elif path == "/json":
            self.send(200, b'{"name":"caf\xc3\xa9","n":[1,2]}', "application/json")
        elif path == "/binary":
            self.send(200, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png")
        elif path == "/gzip":
            self.send(200, gzip.compress(b"zipped text"), "text/plain", Content_Encoding="gzip")
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            self.redirect("/html" if left == 0 else f"/hop/{left - 1}")
        elif path == "/loop":
            self.redirect("/loop", 301)
        elif path == "/to-file":
            self.redirect("file:///etc/passwd")
        elif path == "/endless":
            self.endless()
        elif path == "/slow":
            STOP.wait(10)
            try:
                self.send(200, b"late", "text/plain")
            except OSError:
                self.close_connection = True  # the client gave up, as the test meant it to
        elif path.startswith("/status/"):
            code = int(path.split("/")[2])
            self.send(code, f"status {code} body".encode(), "text/plain", Retry_After="7")
        elif path == "/search":
            self.search(query)
        elif path == "/closed/search":
            self.send(403, b"forbidden", "text/plain")
        else:
            self.send(404, b"not here", "text/plain")

    def endless(self) -> None:
        """Chunked text, up to 20 MiB, as long as the client keeps reading."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(320):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        self.close_connection = True

    def search(self, query: dict[str, list[str]]) -> None:
        if query.get("format") != ["json"]:
            self.send(403, b"format not allowed", "text/plain")
            return
        q = query["q"][0]
        results = [
            {"url": f"https://example.org/{i}", "title": f"Result  {i} for {q}", "content": f"s{i}"}
            for i in range(12)
        ]
        results.insert(1, {"url": "https://example.org/0", "title": "duplicate"})
        results.insert(2, {"title": "no url"})
        body = json.dumps({"query": q, "results": results}).encode()
        self.send(200, body, "application/json")


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    STOP.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    STOP.set()
    server.shutdown()
    server.server_close()


class Sink:
    def __init__(self) -> None:
        self.chunks: list[tuple[str, str]] = []
        self.arrived = asyncio.Event()

    def __call__(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text))
        self.arrived.set()

    def text(self, stream: str) -> str:
        return "".join(t for s, t in self.chunks if s == stream)


def web_settings(**web: Any) -> Settings:
    """The real settings with a ``[web]`` section, validated as the config file's would be."""
    return Settings.model_validate({"web": web})


def make_ctx(tmp_path: Path, settings: Any = None) -> ToolContext:
    return ToolContext(
        workspace=tmp_path,
        emit=Sink(),
        goal_id=1,
        step_id=2,
        action_id=3,
        cancelled=asyncio.Event(),
        settings=settings,
    )


async def fetch(tmp_path: Path, url: str, settings: Any = None, **raw: Any) -> ToolResult:
    tool = WebFetchTool()
    ctx = make_ctx(tmp_path, settings)
    return await asyncio.wait_for(tool.run(tool.parse({"url": url, **raw}), ctx), 30)


# --- web_fetch: content ---------------------------------------------------------------------------


async def test_html_becomes_markdown(base: str, tmp_path: Path):
    tool = WebFetchTool()
    ctx = make_ctx(tmp_path)
    result = await tool.run(tool.parse({"url": f"{base}/html"}), ctx)
    assert result.ok and result.error is None
    assert result.output.startswith("# Test page\n\n# Hello\n\nSome **bold** text")
    assert f"[link]({base}/next?x=1)" in result.output, "links are made absolute"
    assert "- first\n- second" in result.output
    assert "hidden" not in result.output and "color" not in result.output
    assert result.data == {
        "url": f"{base}/html",
        "final_url": f"{base}/html",
        "status": 200,
        "content_type": "text/html",
        "bytes": len(PAGE.encode()),
        "truncated": False,
        "redirects": [],
        "kind": "html",
        "charset": "utf-8",
        "title": "Test page",
    }
    sink = ctx.emit
    assert isinstance(sink, Sink)
    assert sink.text("stderr").startswith(f"GET {base}/html\nHTTP 200 OK, text/html, ")
    assert sink.text("stdout") == result.output


@pytest.mark.parametrize("path", ["/cp1251-header", "/cp1251-meta"])
async def test_windows_1251_page_decodes(base: str, tmp_path: Path, path: str):
    result = await fetch(tmp_path, base + path)
    assert result.output == RUSSIAN
    assert result.data["charset"] == "cp1251"


async def test_latin1_text_and_json_and_gzip(base: str, tmp_path: Path):
    latin = await fetch(tmp_path, f"{base}/latin1")
    assert latin.output == "Grüße, café"
    assert latin.data["kind"] == "text"
    data = await fetch(tmp_path, f"{base}/json")
    assert data.output == '{\n  "name": "café",\n  "n": [\n    1,\n    2\n  ]\n}'
    assert data.data["kind"] == "json"
    zipped = await fetch(tmp_path, f"{base}/gzip")
    assert zipped.output == "zipped text"


async def test_binary_is_described_not_shown(base: str, tmp_path: Path):
    result = await fetch(tmp_path, f"{base}/binary")
    assert result.ok
    assert result.output == "(binary content: image/png, 1032 bytes; not shown)"
    assert result.data["bytes"] == 1032 and result.data["kind"] == "binary"


async def test_head_returns_headers_only(base: str, tmp_path: Path):
    result = await fetch(tmp_path, f"{base}/html", method="HEAD")
    assert result.ok
    lines = result.output.splitlines()
    assert lines[0] == "HTTP 200 OK"
    assert "content-type: text/html; charset=utf-8" in lines
    assert f"content-length: {len(PAGE.encode())}" in lines
    assert result.data["bytes"] == 0 and result.data["content_type"] == "text/html"


async def test_size_cap_stops_the_download(base: str, tmp_path: Path):
    result = await fetch(tmp_path, f"{base}/endless", max_bytes=100_000)  # never ends by itself
    assert result.ok
    assert result.data["truncated"] is True
    assert result.data["bytes"] == 100_000
    assert result.output.startswith("x" * 100_000)
    assert result.output.endswith("[truncated: only the first 97.7 KiB were read]")
    whole = await fetch(tmp_path, f"{base}/html", max_bytes=len(PAGE.encode()))
    assert whole.data["truncated"] is False


# --- web_fetch: redirects -------------------------------------------------------------------------


async def test_redirects_are_followed(base: str, tmp_path: Path):
    result = await fetch(tmp_path, f"{base}/hop/{MAX_REDIRECTS - 1}")
    assert result.ok
    assert result.data["final_url"] == f"{base}/html"
    assert result.data["redirects"] == [
        *(f"{base}/hop/{n}" for n in range(MAX_REDIRECTS - 2, -1, -1)),
        f"{base}/html",
    ]
    assert result.output.startswith("# Test page")


async def test_too_many_redirects(base: str, tmp_path: Path):
    with pytest.raises(ToolError, match=r"too many redirects: more than 5") as info:
        await fetch(tmp_path, f"{base}/hop/{MAX_REDIRECTS}")
    assert not isinstance(info.value, TransientToolError)
    with pytest.raises(ToolError, match="too many redirects"):
        await fetch(tmp_path, f"{base}/loop")


async def test_redirect_to_another_scheme_is_refused(base: str, tmp_path: Path):
    with pytest.raises(
        ToolError, match=r"/to-file redirects to file://.*/etc/passwd, which is not http\(s\)$"
    ):
        await fetch(tmp_path, f"{base}/to-file")


# --- web_fetch: failures --------------------------------------------------------------------------


async def test_404_is_a_failed_result_not_transient(base: str, tmp_path: Path):
    result = await fetch(tmp_path, f"{base}/missing")
    assert not result.ok and not result.transient
    assert result.error == "HTTP 404 Not Found"
    assert result.data["status"] == 404
    assert result.output == "not here"
    server_error = await fetch(tmp_path, f"{base}/status/500")
    assert server_error.error == "HTTP 500 Internal Server Error" and not server_error.transient


@pytest.mark.parametrize("code", [429, 502, 503, 504])
async def test_overload_statuses_are_transient(base: str, tmp_path: Path, code: int):
    with pytest.raises(TransientToolError, match=rf"^HTTP {code} .* \(retry after 7\)$"):
        await fetch(tmp_path, f"{base}/status/{code}")


async def test_timeout_is_transient(base: str, tmp_path: Path):
    with pytest.raises(TransientToolError, match=r"timed out after 0.5 s"):
        await fetch(tmp_path, f"{base}/slow", timeout=0.5)
    with pytest.raises(TransientToolError, match=r"timed out after 0.4 s"):
        await fetch(tmp_path, f"{base}/slow", settings=web_settings(timeout=0.4))


async def test_connection_refused_is_transient(tmp_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientToolError, match=rf"cannot fetch http://127.0.0.1:{port}/"):
        await fetch(tmp_path, f"http://127.0.0.1:{port}/")


async def test_cancel_stops_the_fetch(base: str, tmp_path: Path):
    tool = WebFetchTool()
    ctx = make_ctx(tmp_path)
    task = asyncio.create_task(tool.run(tool.parse({"url": f"{base}/slow"}), ctx))
    sink = ctx.emit
    assert isinstance(sink, Sink)
    await asyncio.wait_for(sink.arrived.wait(), 10)
    ctx.cancelled.set()
    result = await asyncio.wait_for(task, 10)
    assert not result.ok and result.error == "cancelled"


def test_fetch_args_and_preview(tmp_path: Path):
    tool = WebFetchTool()
    assert tool.name == "web_fetch" and not tool.side_effects and tool.default_decision == "allow"
    for bad in (
        {"url": "ftp://example.org/x"},
        {"url": "file:///etc/passwd"},
        {"url": "example.org"},
        {"url": "http://"},
        {"url": "http://example.org", "method": "POST"},
        {"url": "http://example.org", "max_bytes": MAX_BYTES + 1},
        {"url": "http://example.org", "timeout": 0},
    ):
        with pytest.raises(ValidationError):
            tool.parse(bad)
    assert tool.preview(tool.parse({"url": " https://example.org/a "}), tmp_path) == (
        "GET https://example.org/a"
    )
    preview = tool.preview(
        tool.parse({"url": "http://x.org", "method": "HEAD", "timeout": 5}), tmp_path
    )
    assert preview == "HEAD http://x.org  (timeout 5 s)"


# --- web_fetch: the address decision --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://LOCALHOST./x",
        "http://app.localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://127.1/",
        "http://2130706433/",
    ],
)
def test_non_public_addresses_ask(url: str):
    tool = WebFetchTool()
    assert tool.decision_for({"url": url}) == "ask"
    reason = tool.decision_reason({"url": url})
    assert reason is not None and ("address" in reason or "name" in reason)
    assert reason.endswith("fetching it reaches this machine or a private network")


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/", "https://8.8.8.8:443/x", "http://[2606:4700::1111]/"]
)
def test_public_literals_use_the_default(url: str, monkeypatch: pytest.MonkeyPatch):
    import socket

    def no_lookups(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a literal address must not be looked up")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    tool = WebFetchTool()
    assert tool.decision_for({"url": url}) is None
    assert tool.decision_reason(tool.parse({"url": url})) is None


def test_decision_ignores_arguments_that_do_not_parse():
    tool = WebFetchTool()
    assert tool.decision_for({"url": "ftp://127.0.0.1/"}) is None
    assert tool.decision_for({"nope": 1}) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::", "unspecified"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_kinds(address: str, kind: str | None):
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_numeric_names_resolve_without_dns():
    assert host_reason("127.1") == "127.1 resolves to a loopback address (127.0.0.1)"
    assert host_reason("93.184.216.34") is None
    assert host_reason("localhost") == "localhost is a loopback name"


def test_transport_errors_are_transient_unless_retrying_cannot_help():
    url = "http://example.org/"
    refused = transport_error(httpx.ConnectError("refused"), url)
    assert isinstance(refused, TransientToolError)
    assert str(refused) == "cannot fetch http://example.org/: refused"
    unknown = transport_error(httpx.ConnectError("no name"), url, unresolved=True)
    assert type(unknown) is ToolError
    assert str(unknown) == "cannot resolve the host of http://example.org/"
    assert isinstance(transport_error(httpx.ReadTimeout("slow"), url), TransientToolError)
    assert type(transport_error(httpx.DecodingError("bad gzip"), url)) is ToolError


# --- web_search -----------------------------------------------------------------------------------


async def search(tmp_path: Path, settings: Any, **raw: Any) -> tuple[ToolResult, Sink]:
    tool = WebSearchTool()
    ctx = make_ctx(tmp_path, settings)
    result = await asyncio.wait_for(tool.run(tool.parse(raw), ctx), 30)
    assert isinstance(ctx.emit, Sink)
    return result, ctx.emit


async def test_search_against_a_fake_searxng(base: str, tmp_path: Path):
    result, sink = await search(tmp_path, web_settings(search_url=base), query=" rust async ")
    assert result.ok
    results = result.data["results"]
    assert len(results) == 8
    assert results[0] == {
        "title": "Result 0 for rust async",
        "url": "https://example.org/0",
        "snippet": "s0",
    }
    assert [r["url"] for r in results] == [f"https://example.org/{i}" for i in range(8)]
    assert result.data["query"] == "rust async"
    blocks = result.output.split("\n\n")
    assert blocks[0] == "1. Result 0 for rust async\n   https://example.org/0\n   s0"
    assert blocks[7].startswith("8. Result 7")
    assert sink.text("stdout") == result.output
    assert "8 results" in sink.text("stderr")
    few, _ = await search(
        tmp_path, web_settings(search_url=f"{base}/search/"), query="x", max_results=2
    )
    assert len(few.data["results"]) == 2


async def test_search_unconfigured_says_how_to_configure(tmp_path: Path):
    for settings in (None, web_settings()):
        with pytest.raises(ToolError) as info:
            await search(tmp_path, settings, query="x")
        assert str(info.value) == NOT_CONFIGURED
        assert '[web]` then `search_url = "http://127.0.0.1:8888"' in str(info.value)


async def test_search_provider_errors(base: str, tmp_path: Path):
    with pytest.raises(ToolError, match="must allow the JSON format") as info:
        await search(tmp_path, web_settings(search_url=f"{base}/closed"), query="x")
    assert not isinstance(info.value, TransientToolError)
    with pytest.raises(TransientToolError, match="HTTP 503"):
        await search(tmp_path, web_settings(search_url=f"{base}/status/503"), query="x")


def test_search_args():
    tool = WebSearchTool()
    assert tool.name == "web_search" and not tool.side_effects
    for bad in ({"query": ""}, {"query": "  "}, {"query": "x", "max_results": 0}, {}):
        with pytest.raises(ValidationError):
            tool.parse(bad)
    assert tool.parse({"query": "x"}).max_results == 8  # type: ignore[attr-defined]
