"""The access checks textual-serve leaves out, as one aiohttp middleware.

Every request needs the token: in the query (``?token=...``, the URL ``serve`` prints) or in the
cookie set by the first such visit (HttpOnly, SameSite=Strict). A websocket must also come from the
server's own origin, so a page on another site cannot drive the app through a visitor's cookie.

What counts as a websocket is read the way aiohttp reads it, never more narrowly: any request to
the websocket route, or with an ``Upgrade`` header that aiohttp would take for ``websocket``
(it strips the value with ``str.strip()``, so U+00A0 and other Unicode spaces too), or with any
other ``Upgrade`` at all. The guard reads no other header that aiohttp could read differently:
the token comes from aiohttp's own query and cookie parsing, and ``Host`` is not consulted.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NO_TOKEN = (
    "403 Forbidden: open the URL that `agent-tui serve` printed (it holds the access token).\n"
)
FOREIGN_ORIGIN = "403 Forbidden: a websocket from another origin is refused.\n"
WEBSOCKET_ROUTE = "websocket"
"""The name of textual-serve's websocket route (``/ws``)."""


def wants_upgrade(request: web.Request) -> bool:
    """Whether ``request`` may become a websocket: its route, or any ``Upgrade`` header at all.

    aiohttp's handshake accepts ``Upgrade`` when ``value.lower().strip() == "websocket"``; every
    non-empty value (after that same ``str.strip()``) counts here, so no spelling slips through.
    """
    route = request.match_info.route
    if getattr(route, "name", None) == WEBSOCKET_ROUTE:
        return True
    return any(value.strip() for value in request.headers.getall("Upgrade", []))


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute URL, normalised (case, default ports); else None."""
    try:
        parsed = URL(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return None
        return str(parsed.origin())
    except (ValueError, TypeError):
        return None


@dataclass
class Guard:
    """The token, the cookie that carries it, and the origins allowed to open the websocket."""

    token: str
    cookie: str
    origins: frozenset[str] = frozenset()
    secure: bool = False
    """Mark the cookie Secure (the public URL is https)."""

    def allow_origins(self, urls: Iterable[str]) -> None:
        self.origins = frozenset(o for o in map(origin_of, urls) if o)

    def _matches(self, given: str | None) -> bool:
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        by_query = self._matches(request.query.get("token"))
        by_cookie = self._matches(request.cookies.get(self.cookie))
        if not (by_query or by_cookie):
            return web.Response(status=403, text=NO_TOKEN)
        if wants_upgrade(request):
            given = request.headers.getall("Origin", [])
            origin = origin_of(given[0]) if len(given) == 1 else None
            if origin is None or origin not in self.origins:
                return web.Response(status=403, text=FOREIGN_ORIGIN)
        response = await handler(request)
        if not response.prepared:
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Cache-Control"] = "no-store"
            if by_query and not by_cookie:
                response.set_cookie(
                    self.cookie,
                    self.token,
                    path="/",
                    httponly=True,
                    samesite="Strict",
                    secure=self.secure,
                )
        return response
