"""``agent-tui serve``: one headless executor plus the app in the browser, one viewer per tab.

textual-serve has no authentication and takes websockets from any origin, so the page and its
websocket need a random token (printed in the URL, then kept in a cookie) and the websocket must
come from this server's own origin. SIGINT or SIGTERM ends every tab's app process group, then the
executor (running steps get a moment to finish; a second signal interrupts them).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import signal
import sys
from collections.abc import Callable

from agent_tui.commands.common import UsageError

APP_GRACE = 3.0
"""Seconds a tab's app gets after SIGTERM before its process group is killed."""
STEP_GRACE = 3.0
"""Seconds running steps get to finish when serve stops (a second signal cuts it short)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free one)"
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL browsers use when it is not http://HOST:PORT (a proxy, a tunnel)",
    )
    parser.add_argument(
        "--max-viewers",
        type=int,
        metavar="N",
        help="most browser tabs at once, each with its own app process "
        "(default: [serve] max_viewers in the config, 8)",
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def check_arguments(args: argparse.Namespace) -> str | None:
    """Refuse what cannot work; the public URL without a trailing slash, if one was given."""
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    if args.max_viewers is not None and not 1 <= args.max_viewers <= 256:
        raise UsageError("--max-viewers must be between 1 and 256")
    public = args.public_url
    if public is not None:
        from agent_tui.serve.guard import origin_of

        if origin_of(public) is None:
            raise UsageError(f"--public-url {public}: give an http:// or https:// URL")
        public = public.rstrip("/")
    elif _is_wildcard(args.host):
        raise UsageError(
            f"--host {args.host} listens on every address: add --public-url with the address "
            "browsers will use (such as http://myhost:8000)"
        )
    return public


def tunnel_warning(host: str, port: int) -> str:
    return (
        f"agent-tui serve: warning: listening on {host}, not this machine only. Whoever reaches "
        "this port and learns the URL controls agent-tui (it runs commands), and plain HTTP "
        "shows the token to the network. Prefer the default --host 127.0.0.1 and an SSH tunnel "
        f"from your machine: ssh -L {port}:127.0.0.1:{port} THIS_HOST"
    )


def viewer_argv() -> list[str]:
    """Each tab's app: this Python (so a venv works), the TUI as a viewer that ends with us."""
    return [sys.executable, "-m", "agent_tui.serve.viewer", "--parent", str(os.getpid())]


async def serve(
    host: str,
    port: int,
    public_url: str | None,
    *,
    max_viewers: int | None = None,
    announce: Callable[[str], None] = print,
) -> int:
    """Run until SIGINT or SIGTERM; ``announce`` gets the URL with the token.

    ``max_viewers`` (else ``[serve] max_viewers``) caps the browser tabs running at once."""
    import asyncio

    from aiohttp import web

    from agent_tui.commands.worker import StderrSink
    from agent_tui.config import load_settings
    from agent_tui.core.executor import Executor
    from agent_tui.core.store import open_store
    from agent_tui.serve.guard import Guard
    from agent_tui.serve.server import SecureServer

    conf = load_settings()
    store = open_store(conf)
    token = secrets.token_urlsafe(32)
    guard = Guard(token, cookie=f"agent_tui_token_{port}")
    server = SecureServer(
        viewer_argv(),
        guard,
        host=host,
        port=port,
        public_url=public_url,
        env=(
            {"AGENT_TUI_DB": str(store.path)}
            if store.dialect == "sqlite"
            else {"AGENT_TUI_STORE_URL": store.address}
        ),
        max_viewers=max_viewers or conf.serve.max_viewers,
    )
    runner = web.AppRunner(
        await server.build_app(), handle_signals=False, shutdown_timeout=APP_GRACE, access_log=None
    )
    executor = Executor(store, conf, kind="serve", sinks=[StderrSink()])
    stop, force = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            force.set()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    site: web.TCPSite | None = None
    started = False
    try:
        await runner.setup()
        listening = web.TCPSite(runner, host, port)
        try:
            await listening.start()
        except OSError as exc:
            reason = str(exc.strerror or exc).rpartition(": ")[2]
            raise ValueError(f"cannot listen on {host}:{port}: {reason}") from None
        site = listening
        started = True
        await executor.start()
        bound = runner.addresses[0][1]
        if public_url is None:
            server.public_url = f"http://{_url_host(host)}:{bound}"
        server.port = bound
        guard.cookie = f"agent_tui_token_{bound}"
        guard.secure = server.public_url.startswith("https://")
        guard.allow_origins([server.public_url, f"http://{_url_host(host)}:{bound}"])
        if not is_loopback(host):
            print(tunnel_warning(host, bound), file=sys.stderr, flush=True)
        print(
            f"agent-tui serve: executor {executor.owner} on {store.shown}; Ctrl+C stops",
            file=sys.stderr,
            flush=True,
        )
        announce(f"{server.public_url}/?token={token}")
        await stop.wait()
        if executor.running:
            print(
                f"agent-tui serve: stopping; {len(executor.running)} running step(s) get "
                f"{STEP_GRACE:.0f} s to finish (Ctrl+C again interrupts them)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if site is not None:
            await site.stop()
        await server.stop_apps(APP_GRACE)
        if runner.server is not None:
            await runner.cleanup()
        if started:
            await executor.stop(grace=STEP_GRACE, force=force)
        store.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    public_url = check_arguments(args)

    def announce(url: str) -> None:
        print(f"agent-tui serve: open {url}", flush=True)

    return asyncio.run(
        serve(args.host, args.port, public_url, max_viewers=args.max_viewers, announce=announce)
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m agent_tui.commands.serve``: the same command before the CLI names it."""
    from agent_tui import logs
    from agent_tui.config import ConfigError
    from agent_tui.core.store import StoreError

    parser = argparse.ArgumentParser(prog="agent-tui serve")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logs.setup()
    try:
        return cmd_serve(args)
    except (UsageError, ValueError, ConfigError, StoreError) as exc:
        print(f"agent-tui: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
