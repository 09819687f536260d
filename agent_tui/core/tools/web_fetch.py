"""The ``web_fetch`` tool: one http(s) URL, as readable text.

Each host is looked up once per fetch, every address is judged, and the request connects to a
judged address (see :mod:`.web`). A non-public address (loopback, private, link-local...) is
reached only when the decision that let this action run covered it: a person approved it after
being told it reaches this machine or a private network, or the host is written as such an
address (or ``localhost``) so the decision judged exactly what is connected. Otherwise the fetch
ends without a request, saying it needs approval: a name that looked public when the action was
allowed and points at 127.0.0.1 now (DNS rebinding) reaches nothing.

Redirects are followed by hand (at most five) and each hop is judged the same way; a hop to a
non-public address is followed only back to the approved host and port, never to another one.
The body is streamed and stops at ``max_bytes``. HTTP errors are failed results; network
trouble, timeouts and 429/502/503/504 are transient.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator

from agent_tui.core.display import human_size
from agent_tui.core.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    TransientToolError,
)
from agent_tui.core.tools.html import media_type, render
from agent_tui.core.tools.offload import race
from agent_tui.core.tools.web import (
    DEFAULT_TIMEOUT,
    TRANSIENT_STATUS,
    USER_AGENT,
    Judged,
    Resolver,
    check_url,
    client,
    is_literal_local,
    judge,
    lookup_error,
    parse_url,
    pinned_request,
    status_text,
    system_resolve,
    transport_error,
    url_reason,
    web_setting,
)

if TYPE_CHECKING:
    import httpx

    from agent_tui.core.rules import Rule

MAX_BYTES = 10 * 1024 * 1024
"""Most body bytes read from one response."""
MAX_REDIRECTS = 5
REACHES_PRIVATE = "fetching it reaches this machine or a private network"
"""Ends the reason :meth:`WebFetchTool.decision_reason` gives; an approval whose reason says it
is an approval to reach a non-public address."""


class WebFetchArgs(ToolArgs):
    url: str = Field(min_length=1, max_length=8192, description="The http or https URL.")
    method: Literal["GET", "HEAD"] = Field("GET", description="HEAD fetches only the headers.")
    max_bytes: int = Field(
        MAX_BYTES, ge=1, le=MAX_BYTES, description="Most bytes of the body to read."
    )
    timeout: float | None = Field(
        None, gt=0, le=600, description="Seconds for the whole fetch, redirects included."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value.strip())


class WebFetchTool(Tool):
    """Fetch a web page or file over http(s) and return it as text."""

    name = "web_fetch"
    description = (
        "Fetch an http or https URL and return its content as text: HTML as Markdown, JSON "
        "indented, other text as is, binary content described but not shown. Follows up to "
        f"{MAX_REDIRECTS} redirects; reads at most max_bytes (10 MiB) of the body."
    )
    Args = WebFetchArgs

    def __init__(self, resolve: Resolver = system_resolve) -> None:
        self.resolve = resolve
        """Host name to addresses, for the decision and for the fetch alike."""

    def decision_reason(self, args: ToolArgs | Mapping[str, Any]) -> str | None:
        """Why fetching these arguments needs approval (a non-public address), or ``None``.

        A host name is resolved, which blocks; call it from a thread in async code.
        """
        try:
            parsed = args if isinstance(args, WebFetchArgs) else self.parse(dict(args))
        except (ValidationError, TypeError, ValueError):
            return None
        assert isinstance(parsed, WebFetchArgs)
        reason = url_reason(parsed.url, self.resolve)
        return f"{reason}: {REACHES_PRIVATE}" if reason else None

    def rule_covers_risk(self, rule: Rule, args: Mapping[str, Any]) -> bool:
        """Whether an allow ``rule`` that matched these arguments may also allow a non-public
        address: only a domain rule that is itself such an address or a loopback name
        (``127.0.0.1``, ``10.0.0.5``, ``localhost``), for a URL whose host is written that way.
        Any other allow rule covers public addresses only, so the fetch still asks."""
        if rule.matcher != "domain" or not is_literal_local(rule.pattern.removeprefix("*.")):
            return False
        try:
            host = parse_url(str(args.get("url", "")).strip()).raw_host.decode("ascii")
        except (ToolError, UnicodeError):
            return False
        return is_literal_local(host)

    def decision_for(self, args: ToolArgs | Mapping[str, Any]) -> str | None:
        """``"ask"`` for a URL whose host is not a public address; ``None`` to use the default."""
        return "ask" if self.decision_reason(args) else None

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, WebFetchArgs)
        text = f"{args.method} {args.url}"
        if args.max_bytes != MAX_BYTES:
            text += f"  (at most {args.max_bytes} bytes)"
        if args.timeout is not None:
            text += f"  (timeout {args.timeout:g} s)"
        return text

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WebFetchArgs)
        timeout = float(args.timeout or web_setting(ctx.settings, "timeout", DEFAULT_TIMEOUT))
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled", data={"url": args.url})
        what = f"fetching {args.url}"
        fetch = _fetch(args, ctx, timeout, self.resolve)
        fetched = await race(fetch, ctx.cancelled, timeout, what)
        # Converting a large page takes seconds of CPU: it is not part of the network timeout.
        result = await race(_finish(args, ctx, fetched), ctx.cancelled) if fetched else None
        if result is None:
            return ToolResult(ok=False, error="cancelled", data={"url": args.url})
        return result


@dataclass
class _Fetched:
    """The final response of a fetch, its body read."""

    status: int
    status_text: str
    headers: list[tuple[str, str]]
    final_url: str
    body: bytes
    truncated: bool
    redirects: list[str]
    started: float


def _cleared(ctx: ToolContext, judged: Judged) -> bool:
    """Whether the decision that let this action run covered a non-public ``judged`` host."""
    if judged.literal:  # the decision judged this very address, with no lookup to differ
        return True
    return ctx.decision == "ask" and REACHES_PRIVATE in ctx.decision_reason


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def _fetch(
    args: WebFetchArgs, ctx: ToolContext, timeout: float, resolve: Resolver
) -> _Fetched:
    """Send the request, follow redirects hop by hop, read the body up to the cap."""
    started = time.monotonic()
    user_agent = str(web_setting(ctx.settings, "user_agent", USER_AGENT))
    url = parse_url(args.url)
    seen: dict[str, Judged] = {}

    async def look_up(target: httpx.URL) -> Judged:
        host = target.raw_host.decode("ascii")
        if host not in seen:  # once per fetch: a second answer could differ
            try:
                seen[host] = await asyncio.to_thread(judge, host, resolve)
            except (OSError, UnicodeError) as exc:
                raise lookup_error(exc, str(target)) from None
        return seen[host]

    origin = await look_up(url)
    if origin.reason is not None and not _cleared(ctx, origin):
        raise ToolError(
            f"{url} was not fetched: {origin.reason}, and reaching this machine or a private "
            "network needs a person's approval, which this action did not have; fetch it again "
            "to ask for one"
        )
    approved = (origin.host, _port(url)) if origin.reason is not None else None
    redirects: list[str] = []
    ctx.emit("stderr", f"{args.method} {url}\n")
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}  # one per name: see pinned_request
        while True:
            judged = await look_up(url)
            if (http := clients.get(judged.host)) is None:
                http = clients[judged.host] = await stack.enter_async_context(
                    client(timeout, user_agent, trust_env=False)
                )
            response = await _send(http, args.method, url, judged)
            try:
                if not response.has_redirect_location:
                    return await _read_final(args, response, url, redirects, started)
                location = response.headers["location"]
            finally:
                await response.aclose()
            target = _redirect_target(url, location)
            ctx.emit("stderr", f"{response.status_code} -> {target}\n")
            if len(redirects) >= MAX_REDIRECTS:
                raise ToolError(f"too many redirects: more than {MAX_REDIRECTS} from {args.url}")
            if target.scheme not in ("http", "https"):
                raise ToolError(f"{url} redirects to {location[:200]}, which is not http(s)")
            hop = await look_up(target)
            if hop.reason is not None and (hop.host, _port(target)) != approved:
                raise ToolError(
                    f"{url} redirects to {target}, which was not followed: {hop.reason}, and "
                    "reaching this machine or a private network needs its own approval; fetch "
                    f"{target} as an action of its own to ask for it"
                )
            redirects.append(str(target))
            url = target


async def _send(
    http: httpx.AsyncClient, method: str, url: httpx.URL, judged: Judged
) -> httpx.Response:
    """Send to the judged addresses in turn until one accepts the connection."""
    import httpx

    for index, address in enumerate(judged.addresses):
        request = pinned_request(http, method, url, address)
        try:
            return await http.send(request, stream=True)
        except httpx.ConnectError as exc:
            if index + 1 < len(judged.addresses):
                continue
            raise transport_error(exc, str(url)) from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc, str(url)) from exc
    raise ToolError(f"{url}: no address to connect to")


def _redirect_target(url: httpx.URL, location: str) -> httpx.URL:
    """Where a ``Location`` leads from ``url``, read as httpx would (relative, ``//host``...)."""
    import httpx

    try:
        given = httpx.URL(location)
        if given.scheme in ("http", "https") and not given.host:
            given = given.copy_with(host=url.host)  # "http:/path": this host
        target = url.join(given) if given.is_relative_url else given
        if target.fragment == "" and url.fragment:
            target = target.copy_with(fragment=url.fragment)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ToolError(f"bad redirect from {url}: {exc}") from None
    return target


async def _read_final(
    args: WebFetchArgs,
    response: httpx.Response,
    url: httpx.URL,
    redirects: list[str],
    started: float,
) -> _Fetched:
    """The final response's body (at most ``max_bytes``); overload statuses are transient."""
    status = status_text(response)
    if response.status_code in TRANSIENT_STATUS:
        after = response.headers.get("retry-after")
        raise TransientToolError(status + (f" (retry after {after})" if after else ""))
    body, truncated = b"", False
    if args.method == "GET":
        body, truncated = await _read(response, url, args.max_bytes)
    headers = list(response.headers.items())
    return _Fetched(
        response.status_code,
        status,
        headers,
        str(url),
        body,
        truncated,
        redirects,
        started,
    )


async def _read(response: httpx.Response, url: httpx.URL, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the (decompressed) body, and whether there was more."""
    import httpx

    buf = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            buf += chunk
            if len(buf) > cap:
                return bytes(buf[:cap]), True
    except httpx.HTTPError as exc:
        raise transport_error(exc, str(url)) from exc
    return bytes(buf), False


async def _finish(args: WebFetchArgs, ctx: ToolContext, got: _Fetched) -> ToolResult:
    """The result: the body rendered as text (headers for HEAD); 4xx and 5xx fail."""
    content_type = next((v for k, v in got.headers if k.lower() == "content-type"), None)
    data: dict[str, Any] = {
        "url": args.url,
        "final_url": got.final_url,
        "status": got.status,
        "content_type": media_type(content_type) or None,
        "bytes": len(got.body),
        "truncated": got.truncated,
        "redirects": got.redirects,
    }
    if args.method == "HEAD":
        output = "\n".join([got.status_text, *(f"{k}: {v}" for k, v in got.headers)])
    else:
        shown = await asyncio.to_thread(
            render, got.body, content_type, got.final_url, complete=not got.truncated
        )
        data.update(kind=shown.kind, charset=shown.charset, title=shown.title)
        output = shown.text
        if got.truncated:
            output += f"\n\n[truncated: only the first {human_size(len(got.body))} were read]"
    took = time.monotonic() - got.started
    note = ", truncated" if got.truncated else ""
    kind = data["content_type"] or "no content type"
    size = human_size(len(got.body))
    ctx.emit("stderr", f"{got.status_text}, {kind}, {size}{note} in {took:.1f} s\n")
    ctx.emit("stdout", output)
    error = got.status_text if got.status >= 400 else None
    return ToolResult(ok=error is None, output=output, data=data, error=error)
