"""What the web tools share: address checks, the HTTP client, error mapping, cancel and timeout.

Addresses: a URL whose host is (or resolves to) a loopback, private, link-local or otherwise
non-public address reaches the user's own machine or network, so fetching it asks first, and a
public URL may not redirect there. Literal addresses are judged without any network access.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from agent_tui import __version__
from agent_tui.core.tools.base import ToolError, TransientToolError

if TYPE_CHECKING:
    # httpx is imported where it is used: importing it loads Rich (its command line), and the
    # core must import without Rich.
    import httpx

T = TypeVar("T")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"agent-tui/{__version__}"
TRANSIENT_STATUS = frozenset({408, 429, 502, 503, 504})
"""HTTP statuses worth retrying with backoff; every other 4xx and 5xx is a plain failure."""
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def web_setting(settings: Any, name: str, default: T) -> T:
    """``settings.web.NAME``, or ``default`` when the settings have no such field or it is unset."""
    value = getattr(getattr(settings, "web", None), name, None)
    return default if value is None else value


def address_kind(ip: IPAddress) -> str | None:
    """What makes ``ip`` non-public (``"loopback"``, ``"private"``, ...), or ``None`` if public.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by it.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _judge(host: str, addresses: Iterable[str]) -> str | None:
    for text in addresses:
        ip = _literal(text)
        if ip is not None and (kind := address_kind(ip)):
            return f"{host} resolves to a {kind} address ({ip})"
    return None


def _precheck(host: str) -> tuple[str | None, bool]:
    """``(reason, decided)``: a reason for literals and local names; ``decided`` if no lookup is needed."""
    name = host.lower().rstrip(".")
    if not name:
        return "the URL has no host", True
    ip = _literal(name)
    if ip is not None:
        kind = address_kind(ip)
        return (f"{host} is a {kind} address" if kind else None), True
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return f"{host} is a loopback name", True
    return None, False


def host_reason(host: str) -> str | None:
    """Why ``host`` is not a public address, or ``None``; a name is resolved (blocking)."""
    reason, decided = _precheck(host)
    if decided:
        return reason
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return _judge(host, (str(info[4][0]) for info in infos))


async def host_reason_async(host: str) -> tuple[str | None, bool]:
    """:func:`host_reason` without blocking the loop; also whether the name failed to resolve."""
    reason, decided = _precheck(host)
    if decided:
        return reason, False
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        return None, exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
    except (OSError, UnicodeError):
        return None, False
    return _judge(host, (str(info[4][0]) for info in infos)), False


def check_url(url: str) -> str:
    """``url`` if it is http or https with a host; else ``ValueError`` with a one-line reason."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https URLs can be fetched (got {url[:100]!r})")
    if not parts.hostname:
        raise ValueError(f"the URL has no host (got {url[:100]!r})")
    return url


def parse_url(url: str) -> httpx.URL:
    """``url`` as httpx reads it (what is connected to); :class:`ToolError` unless http(s)."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ToolError(f"invalid URL {url[:100]!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ToolError(f"only http and https URLs with a host can be fetched (got {url[:100]!r})")
    return parsed


def url_reason(url: str) -> str | None:
    """Why fetching ``url`` reaches a non-public address, or ``None`` (blocking DNS for names)."""
    try:
        host = parse_url(url).host
    except ToolError:
        return None
    return host_reason(host)


def redirect_refusal(
    origin_reason: str | None, target_reason: str | None, target: str
) -> str | None:
    """Why a redirect to ``target`` is refused: a public origin may not lead to a non-public address.

    ``origin_reason`` and ``target_reason`` are what :func:`host_reason` said of each host. An
    origin that is itself non-public was approved as such, so its redirects are not limited.
    """
    if origin_reason is None and target_reason is not None:
        return (
            f"refused a redirect to {target}: {target_reason}, and a public URL may not lead "
            "to this machine or a private network"
        )
    return None


def client(timeout: float, user_agent: str) -> httpx.AsyncClient:
    """An HTTP client that follows no redirects by itself (each hop is checked by the caller)."""
    import httpx

    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
    )


def transport_error(exc: httpx.HTTPError, url: str, *, unresolved: bool = False) -> ToolError:
    """The tool error for a failed request: transient unless retrying cannot help."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return TransientToolError(f"timed out fetching {url}: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.ConnectError) and unresolved:
        return ToolError(f"cannot resolve the host of {url}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.DecodingError):
        return ToolError(f"cannot fetch {url}: {exc}")
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc):
        return ToolError(f"bad redirect from {url}: {exc}")
    detail = str(exc) or type(exc).__name__
    return TransientToolError(f"cannot fetch {url}: {detail}")


def status_text(response: httpx.Response) -> str:
    """``HTTP 404 Not Found``."""
    phrase = response.reason_phrase or ""
    return f"HTTP {response.status_code} {phrase}".rstrip()


async def race(
    work: Coroutine[Any, Any, T],
    cancelled: asyncio.Event,
    timeout: float | None = None,
    what: str = "",
) -> T | None:
    """Run ``work`` until it ends, ``cancelled`` is set (``None``) or ``timeout`` passes.

    A timeout raises :class:`TransientToolError` naming ``what`` was being done; the work is
    cancelled in both early cases.
    """
    task = asyncio.ensure_future(work)
    canceller = asyncio.ensure_future(cancelled.wait())
    try:
        done, _ = await asyncio.wait(
            {task, canceller}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        canceller.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task in done:
        return task.result()
    if canceller in done:
        return None
    raise TransientToolError(f"timed out after {timeout:g} s {what}".rstrip())


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
