"""The ``web_search`` tool: a query sent to the SearXNG instance named in the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from agent_tui.core.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    TransientToolError,
)
from agent_tui.core.tools.offload import race
from agent_tui.core.tools.web import (
    DEFAULT_TIMEOUT,
    TRANSIENT_STATUS,
    USER_AGENT,
    client,
    status_text,
    transport_error,
    web_setting,
)

SNIPPET_CHARS = 500
NOT_CONFIGURED = (
    "web_search has no search provider: add a SearXNG instance to config.toml "
    '(`[web]` then `search_url = "http://127.0.0.1:8888"`), or set '
    'AGENT_TUI_WEB__SEARCH_URL="http://127.0.0.1:8888"; the instance must allow the JSON format '
    "(search.formats: [html, json] in its settings.yml)"
)


class WebSearchArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=1000, description="What to search for.")
    max_results: int = Field(8, ge=1, le=50, description="Most results to return.")

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is empty")
        return value.strip()


class WebSearchTool(Tool):
    """Search the web through a SearXNG instance."""

    name = "web_search"
    description = (
        "Search the web. Returns numbered results, each with a title, a URL and a snippet; "
        "use web_fetch to read a result."
    )
    Args = WebSearchArgs

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, WebSearchArgs)
        return f"search the web for {args.query!r} (up to {args.max_results} results)"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WebSearchArgs)
        base = web_setting(ctx.settings, "search_url", "")
        if not base:
            raise ToolError(NOT_CONFIGURED)
        if ctx.cancelled.is_set():
            return ToolResult(ok=False, error="cancelled", data={"results": []})
        timeout = float(web_setting(ctx.settings, "timeout", DEFAULT_TIMEOUT))
        work = _search(str(base), args, ctx, timeout)
        result = await race(work, ctx.cancelled, timeout, f"searching {base}")
        if result is None:
            return ToolResult(ok=False, error="cancelled", data={"results": []})
        return result


def endpoint(base: str) -> str:
    """The JSON search endpoint of a SearXNG instance given by its base URL (or its /search)."""
    base = base.strip().rstrip("/")
    return base if base.endswith("/search") else f"{base}/search"


async def _search(base: str, args: WebSearchArgs, ctx: ToolContext, timeout: float) -> ToolResult:
    import httpx

    url = endpoint(base)
    user_agent = str(web_setting(ctx.settings, "user_agent", USER_AGENT))
    ctx.emit("stderr", f"searching {url} for {args.query!r}\n")
    async with client(timeout, user_agent) as http:
        try:
            response = await http.get(url, params={"q": args.query, "format": "json"})
        except httpx.HTTPError as exc:
            raise transport_error(exc, url) from exc
    if response.status_code in TRANSIENT_STATUS:
        raise TransientToolError(f"search provider: {status_text(response)}")
    if response.status_code == 403:
        raise ToolError(
            f"search provider {url}: {status_text(response)}; the SearXNG instance must allow "
            "the JSON format (search.formats: [html, json] in its settings.yml)"
        )
    if response.status_code >= 400:
        raise ToolError(f"search provider {url}: {status_text(response)}")
    try:
        payload = response.json()
    except ValueError as exc:
        raise ToolError(f"search provider {url} did not answer JSON") from exc
    results = _results(payload, args.max_results)
    output = _format(results) if results else f"no results for {args.query!r}"
    ctx.emit("stderr", f"{len(results)} results\n")
    ctx.emit("stdout", output)
    return ToolResult(ok=True, output=output, data={"query": args.query, "results": results})


def _results(payload: Any, limit: int) -> list[dict[str, str]]:
    raw = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        raise ToolError("the search provider's answer has no results list")
    results: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        url = item["url"]
        if url in seen:
            continue
        seen.add(url)
        title = " ".join(str(item.get("title") or url).split())
        snippet = " ".join(str(item.get("content") or "").split())[:SNIPPET_CHARS]
        results.append({"title": title, "url": url, "snippet": snippet})
        if len(results) >= limit:
            break
    return results


def _format(results: list[dict[str, str]]) -> str:
    blocks = []
    for number, item in enumerate(results, start=1):
        lines = [f"{number}. {item['title']}", f"   {item['url']}"]
        if item["snippet"]:
            lines.append(f"   {item['snippet']}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
