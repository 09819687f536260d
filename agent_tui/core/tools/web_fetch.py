"""The ``web_fetch`` tool: one http(s) URL, as readable text.

Redirects are followed by hand (at most five) so that every hop is checked: a public URL may
not lead to a loopback or private address. The body is streamed and stops at ``max_bytes``.
HTTP errors are failed results; network trouble, timeouts and 429/502/503/504 are transient.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
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
        result = await race(
            _fetch(args, ctx, timeout), ctx.cancelled, timeout, f"fetching {args.url}"
        )
        if result is None:
            return ToolResult(ok=False, error="cancelled", data={"url": args.url})
        return result


async def _fetch(args: WebFetchArgs, ctx: ToolContext, timeout: float) -> ToolResult:
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
                    return await _finish(args, ctx, response, redirects, started)
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


async def _finish(
    args: WebFetchArgs,
    ctx: ToolContext,
    response: httpx.Response,
    redirects: list[str],
    started: float,
) -> ToolResult:
    """Read and render the final response."""
    status = status_text(response)
    if response.status_code in TRANSIENT_STATUS:
        after = response.headers.get("retry-after")
        raise TransientToolError(f"{status}" + (f" (retry after {after})" if after else ""))
    body, truncated = b"", False
    if args.method == "GET":
        body, truncated = await _read(response, args.max_bytes)
    content_type = response.headers.get("content-type")
    final_url = str(response.url)
    data: dict[str, Any] = {
        "url": args.url,
        "final_url": final_url,
        "status": response.status_code,
        "content_type": media_type(content_type) or None,
        "bytes": len(body),
        "truncated": truncated,
        "redirects": redirects,
    }
    if args.method == "HEAD":
        lines = [f"{name}: {value}" for name, value in response.headers.items()]
        output = "\n".join([status, *lines])
    else:
        shown = await asyncio.to_thread(
            render, body, content_type, final_url, complete=not truncated
        )
        data.update(kind=shown.kind, charset=shown.charset, title=shown.title)
        output = shown.text
        if truncated:
            output += f"\n\n[truncated: only the first {human_size(len(body))} were read]"
    took = time.monotonic() - started
    note = ", truncated" if truncated else ""
    kind = data["content_type"] or "no content type"
    ctx.emit("stderr", f"{status}, {kind}, {human_size(len(body))}{note} in {took:.1f} s\n")
    ctx.emit("stdout", output)
    error = status if response.status_code >= 400 else None
    return ToolResult(ok=error is None, output=output, data=data, error=error)


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
