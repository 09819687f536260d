"""The ``web_fetch`` tool: one http(s) URL, as readable text.

Redirects are followed by hand (at most five) so that every hop is checked: a public URL may
not lead to a loopback or private address. The body is streamed and stops at ``max_bytes``.
HTTP errors are failed results; network trouble, timeouts and 429/502/503/504 are transient.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator

from agent_tui.core.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    TransientToolError,
)
from agent_tui.core.tools.html import media_type, render
from agent_tui.core.tools.web import (
    DEFAULT_TIMEOUT,
    TRANSIENT_STATUS,
    USER_AGENT,
    check_url,
    client,
    host_reason_async,
    human_size,
    parse_url,
    race,
    redirect_refusal,
    status_text,
    transport_error,
    url_reason,
    web_setting,
)

if TYPE_CHECKING:
    import httpx

MAX_BYTES = 10 * 1024 * 1024
"""Most body bytes read from one response."""
MAX_REDIRECTS = 5


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

    def decision_reason(self, args: ToolArgs | Mapping[str, Any]) -> str | None:
        """Why fetching these arguments needs approval (a non-public address), or ``None``.

        A host name is resolved, which blocks; call it from a thread in async code.
        """
        try:
            parsed = args if isinstance(args, WebFetchArgs) else self.parse(dict(args))
        except (ValidationError, TypeError, ValueError):
            return None
        assert isinstance(parsed, WebFetchArgs)
        reason = url_reason(parsed.url)
        return (
            f"{reason}: fetching it reaches this machine or a private network" if reason else None
        )

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
        fetched = await race(_fetch(args, ctx, timeout), ctx.cancelled, timeout, what)
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


async def _fetch(args: WebFetchArgs, ctx: ToolContext, timeout: float) -> _Fetched:
    """Send the request, follow redirects hop by hop, read the body up to the cap."""
    import httpx

    started = time.monotonic()
    user_agent = str(web_setting(ctx.settings, "user_agent", USER_AGENT))
    url = parse_url(args.url)
    origin_reason, unresolved = await host_reason_async(url.host)
    redirects: list[str] = []
    ctx.emit("stderr", f"{args.method} {url}\n")
    async with client(timeout, user_agent) as http:
        request = http.build_request(args.method, url)
        while True:
            try:
                response = await http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise transport_error(exc, str(request.url), unresolved=unresolved) from exc
            try:
                if response.next_request is None:
                    return await _read_final(args, response, redirects, started)
                following = response.next_request
            finally:
                await response.aclose()
            target = following.url
            ctx.emit("stderr", f"{response.status_code} -> {target}\n")
            if len(redirects) >= MAX_REDIRECTS:
                raise ToolError(f"too many redirects: more than {MAX_REDIRECTS} from {args.url}")
            if target.scheme not in ("http", "https"):
                raise ToolError(f"{request.url} redirects to {target}, which is not http(s)")
            reason, unresolved = await host_reason_async(target.host)
            if refusal := redirect_refusal(origin_reason, reason, str(target)):
                raise ToolError(refusal)
            redirects.append(str(target))
            request = following


async def _read_final(
    args: WebFetchArgs, response: httpx.Response, redirects: list[str], started: float
) -> _Fetched:
    """The final response's body (at most ``max_bytes``); overload statuses are transient."""
    status = status_text(response)
    if response.status_code in TRANSIENT_STATUS:
        after = response.headers.get("retry-after")
        raise TransientToolError(status + (f" (retry after {after})" if after else ""))
    body, truncated = b"", False
    if args.method == "GET":
        body, truncated = await _read(response, args.max_bytes)
    headers = list(response.headers.items())
    return _Fetched(
        response.status_code,
        status,
        headers,
        str(response.url),
        body,
        truncated,
        redirects,
        started,
    )


async def _read(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the (decompressed) body, and whether there was more."""
    import httpx

    buf = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            buf += chunk
            if len(buf) > cap:
                return bytes(buf[:cap]), True
    except httpx.HTTPError as exc:
        raise transport_error(exc, str(response.url)) from exc
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
