"""What the web tools share: address checks, the HTTP client, error mapping, cancel and timeout.

Addresses: a URL whose host is (or resolves to) a loopback, private, link-local or otherwise
non-public address reaches the user's own machine or network, so fetching it asks first.
Literal addresses are judged without any network access.

A host name is looked up once per fetch (:func:`judge`), every address it gives is judged, and
the request goes to a judged address (:func:`pinned_request`): httpx never resolves the name
again, so a name that answers a public address to the check and 127.0.0.1 to the connection
(DNS rebinding) cannot slip through. The name stays in the ``Host`` header and, for https, in
the TLS server name, so virtual hosts and certificate checks see the name as before.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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

Resolver = Callable[[str], Sequence[str]]
"""A host name to its addresses, blocking; raises ``OSError`` (``socket.gaierror``) on failure.
The one place a name becomes an address, so a test can stand in for DNS."""


def system_resolve(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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
        if ip is None:
            return f"{host} resolves to {text!r}, which is not an address"
        if kind := address_kind(ip):
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


def is_literal_local(host: str) -> bool:
    """Whether ``host`` is, as written, a non-public address or a loopback name (no lookup)."""
    reason, decided = _precheck(host)
    return decided and reason is not None


@dataclass(frozen=True, slots=True)
class Judged:
    """One host, looked up at most once, with every address judged."""

    host: str
    addresses: tuple[str, ...]
    """Where a request may connect: the literal itself, or every address the lookup gave."""
    reason: str | None
    """Why the host is not public (any one non-public address is enough), or ``None``."""
    literal: bool
    """Judged from the host as written (an address, or a loopback name), with no lookup that
    could answer differently the next time."""


def judge(host: str, resolve: Resolver = system_resolve) -> Judged:
    """Look ``host`` up once and judge every address; ``OSError`` if the lookup fails.

    A loopback name (``localhost``) is only ever connected on its loopback addresses.
    """
    reason, decided = _precheck(host)
    name = host.strip("[]")
    ip = _literal(name)
    if ip is not None:
        return Judged(host, (name.split("%", 1)[0],), reason, True)
    if not decided:
        addresses = tuple(resolve(host))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        return Judged(host, addresses, _judge(host, addresses), False)
    if reason is None:  # no host at all
        raise socket.gaierror(socket.EAI_NONAME, "the URL has no host")
    loopback = tuple(
        a
        for a in resolve(host)
        if (ip := _literal(a)) is not None and address_kind(ip) == "loopback"
    )
    if not loopback:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no loopback address")
    return Judged(host, loopback, reason, True)


def host_reason(host: str, resolve: Resolver = system_resolve) -> str | None:
    """Why ``host`` is not a public address, or ``None``; a name is resolved (blocking).

    A name that does not resolve is ``None``: the fetch itself will say it cannot be resolved.
    """
    reason, decided = _precheck(host)
    if decided:
        return reason
    try:
        return judge(host, resolve).reason
    except (OSError, UnicodeError):
        return None


def lookup_error(exc: OSError | UnicodeError, url: str) -> ToolError:
    """The tool error for a failed lookup: a name that does not exist is not worth retrying."""
    gone = (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
    if isinstance(exc, UnicodeError) or (isinstance(exc, socket.gaierror) and exc.errno in gone):
        return ToolError(f"cannot resolve the host of {url}")
    return TransientToolError(f"cannot resolve the host of {url}: {exc}")


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


def url_reason(url: str, resolve: Resolver = system_resolve) -> str | None:
    """Why fetching ``url`` reaches a non-public address, or ``None`` (blocking DNS for names)."""
    try:
        host = parse_url(url).raw_host.decode("ascii")
    except (ToolError, UnicodeError):
        return None
    return host_reason(host, resolve)


def client(timeout: float, user_agent: str, *, trust_env: bool = True) -> httpx.AsyncClient:
    """An HTTP client that follows no redirects by itself (each hop is checked by the caller).

    ``trust_env=False`` ignores ``HTTP(S)_PROXY``: a proxy would look the name up itself and
    connect wherever its answer points, past any judgement made here.
    """
    import httpx

    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        trust_env=trust_env,
    )


def pinned_request(
    http: httpx.AsyncClient, method: str, url: httpx.URL, address: str
) -> httpx.Request:
    """A request for ``url`` that connects to ``address`` and nowhere else.

    The URL's host becomes the address, so httpx does no lookup of its own; the ``Host``
    header keeps the name (and port) as the URL gives it, and for https the ``sni_hostname``
    extension keeps the name as the TLS server name, which is also the name the certificate is
    checked against. An address literal in the URL is sent as it is.

    Use one client per host name: its connection pool is keyed by the address, so a connection
    opened (and its certificate checked) for one name would otherwise carry another's requests.
    """
    host = url.raw_host.decode("ascii")
    if _literal(host) is not None:
        return http.build_request(method, url)
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return http.build_request(
        method,
        url.copy_with(host=address),
        headers={"Host": url.netloc.decode("ascii")},
        extensions=extensions,
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
