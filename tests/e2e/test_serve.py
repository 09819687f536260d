"""``agent-tui serve`` as a real subprocess on 127.0.0.1: the token, the origin check, the stop."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from agent_tui.commands.serve import is_loopback, tunnel_warning
from tests.conftest import CLI, cli_env
from tests.e2e.serving import SERVE, Served, alive, descendants, serving, wait_until

pytestmark = pytest.mark.slow


async def _ws_status(served: Served, **headers: str) -> int:
    """The HTTP status of a websocket handshake (101 when it is accepted)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(f"{served.base}/ws", headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_the_page_needs_the_token(home: Path) -> None:
    with serving(home) as served:
        assert served.url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            for path in ("/", "/?token=wrong", "/static/js/textual.js", "/ws"):
                async with session.get(f"{served.base}{path}") as response:
                    assert response.status == 403, path
                    assert "token" in await response.text()
                    assert "Set-Cookie" not in response.headers

            async with session.get(served.url) as response:
                assert response.status == 200
                page = await response.text()
                cookie = response.headers["Set-Cookie"]
            assert f"ws://127.0.0.1:{served.port}/ws" in page
            assert cookie.startswith(f"agent_tui_token_{served.port}={served.token};")
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert response.headers["Referrer-Policy"] == "no-referrer"

            jar = {"Cookie": f"agent_tui_token_{served.port}={served.token}"}
            async with session.get(f"{served.base}/", headers=jar) as response:
                assert response.status == 200
                assert "Set-Cookie" not in response.headers
            async with session.get(f"{served.base}/static/js/textual.js", headers=jar) as response:
                assert response.status == 200


async def test_a_cross_origin_websocket_is_refused(home: Path) -> None:
    with serving(home) as served:
        cookie = f"agent_tui_token_{served.port}={served.token}"
        own = served.base
        assert await _ws_status(served, Origin="http://evil.example", Cookie=cookie) == 403
        assert await _ws_status(served, Origin="null", Cookie=cookie) == 403
        assert await _ws_status(served, Origin=f"http://localhost:{served.port}1") == 403
        assert await _ws_status(served, Cookie=cookie) == 403  # no Origin at all
        assert await _ws_status(served, Origin=own) == 403  # the right origin, but no token
        assert await _ws_status(served, Origin=own, Cookie="agent_tui_token_1=x") == 403

        async with aiohttp.ClientSession() as session:
            headers = {"Origin": own, "Cookie": cookie}
            url = f"{served.base}/ws?width=100&height=30"
            async with session.ws_connect(url, headers=headers) as ws:
                screen = b""
                deadline = time.monotonic() + 30
                while b"agent-tui" not in screen:
                    assert time.monotonic() < deadline, "the app drew nothing"
                    message = await ws.receive(timeout=30)
                    if message.type == aiohttp.WSMsgType.BINARY:
                        screen += message.data
                    assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
                await ws.send_str(json.dumps(["ping", "42"]))


def _serve_children(served: Served) -> dict[int, str]:
    return descendants(served.process.pid)


def test_sigterm_ends_every_child_process(home: Path, tmp_path: Path) -> None:
    """Two browser tabs' apps and a running shell step: none survives SIGTERM to serve."""
    recipe = tmp_path / "sleepy.toml"
    recipe.write_text(
        'title = "Sleepy"\n[[steps]]\nid = "nap"\ntool = "shell"\n'
        'args = { command = "sleep 321" }\n'
    )
    added = subprocess.run(
        [*CLI, "add", "--recipe", str(recipe)],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert added.stdout.strip()
    allow_shell = {"AGENT_TUI_POLICY__TOOLS__SHELL": "allow", "AGENT_TUI_SHELL__KILL_GRACE": "1"}
    with serving(home, **allow_shell) as served:

        async def open_tabs() -> None:
            headers = {
                "Origin": served.base,
                "Cookie": f"agent_tui_token_{served.port}={served.token}",
            }
            async with aiohttp.ClientSession() as session:
                tabs = [
                    await session.ws_connect(f"{served.base}/ws", headers=headers) for _ in range(2)
                ]
                for tab in tabs:
                    await tab.receive(timeout=30)  # the app is up and drawing

                def apps() -> int:
                    return sum(
                        "agent_tui.serve.viewer" in c for c in _serve_children(served).values()
                    )

                wait_until(lambda: apps() == 2, what="two app processes")
                wait_until(
                    lambda: any("sleep 321" in c for c in _serve_children(served).values()),
                    what="the shell step to run",
                )
                children = _serve_children(served)
                assert served.stop() == 0
                gone = [pid for pid in children if not alive(pid)]
                assert sorted(gone) == sorted(children), {
                    pid: cmd for pid, cmd in children.items() if alive(pid)
                }
                for tab in tabs:
                    await tab.close()

        asyncio.run(open_tabs())


def test_viewers_end_even_when_serve_is_killed_outright(home: Path) -> None:
    with serving(home) as served:

        async def open_tab() -> dict[int, str]:
            headers = {
                "Origin": served.base,
                "Cookie": f"agent_tui_token_{served.port}={served.token}",
            }
            async with aiohttp.ClientSession() as session:
                tab = await session.ws_connect(f"{served.base}/ws", headers=headers)
                await tab.receive(timeout=30)
                children = _serve_children(served)
                served.process.kill()
                served.process.wait()
                await tab.close()
                return children

        children = asyncio.run(open_tab())
        assert any("agent_tui.serve.viewer" in c for c in children.values())
        wait_until(lambda: not any(alive(pid) for pid in children), 10, "the orphaned viewer")


def test_listening_beyond_this_machine_is_explained(home: Path) -> None:
    out = subprocess.run(
        [*SERVE, "--host", "0.0.0.0"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("agent-tui: error: --host 0.0.0.0 listens on every address")
    assert "--public-url" in out.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    warning = tunnel_warning("192.168.1.5", 8000)
    assert "ssh -L 8000:127.0.0.1:8000" in warning and "192.168.1.5" in warning


def test_a_port_in_use_is_one_error_line(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [*SERVE, "--port", str(port)],
            env=cli_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert out.returncode == 1
    assert (
        out.stderr
        == f"agent-tui: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )
    assert not out.stdout


def _raw_handshake(served: Served, upgrade: bytes, origin: str, cookie: str) -> bytes:
    """Send a websocket handshake byte for byte (a client can put anything in a header)."""
    request = (
        b"GET /ws HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{served.port}\r\n".encode()
        + b"Upgrade: "
        + upgrade
        + b"\r\nConnection: Upgrade\r\n"
        + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + f"Origin: {origin}\r\nCookie: {cookie}\r\n\r\n".encode()
    )
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as conn:
        conn.sendall(request)
        return conn.recv(4096).split(b"\r\n", 1)[0]


def test_an_upgrade_header_padded_with_unicode_space_still_needs_the_origin(home: Path) -> None:
    """aiohttp strips the Upgrade value with ``str.strip()`` (U+00A0 and other Unicode spaces
    too), so a check that strips less would let a foreign page through."""
    with serving(home) as served:
        cookie = f"agent_tui_token_{served.port}={served.token}"
        for upgrade in (
            "websocket\u00a0".encode(),
            "\u00a0WebSocket\u2003".encode(),
            b"websocket\t",
            b"WEBSOCKET",
        ):
            status = _raw_handshake(served, upgrade, "http://evil.example", cookie)
            assert status.startswith(b"HTTP/1.1 403"), (upgrade, status)
        # The same padded header from the server's own origin is a working websocket.
        status = _raw_handshake(served, "websocket\u00a0".encode(), served.base, cookie)
        assert status.startswith(b"HTTP/1.1 101"), status


def test_viewers_are_capped_and_a_closed_tab_frees_its_slot(home: Path) -> None:
    with serving(home, "--max-viewers", "2") as served:

        async def tabs() -> None:
            headers = {
                "Origin": served.base,
                "Cookie": f"agent_tui_token_{served.port}={served.token}",
            }
            async with aiohttp.ClientSession() as session:
                opened = [
                    await session.ws_connect(f"{served.base}/ws", headers=headers) for _ in range(2)
                ]
                for tab in opened:
                    await tab.receive(timeout=30)
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(f"{served.base}/ws", headers=headers)
                assert refused.value.status == 503
                async with session.get(served.url) as page:
                    assert page.status == 503
                    assert page.headers["Content-Type"].startswith("text/html")
                    text = await page.text()
                    assert "2 browser tabs" in text and "close one" in text
                await opened[0].close()

                async def reopen() -> aiohttp.ClientWebSocketResponse | None:
                    try:
                        return await session.ws_connect(f"{served.base}/ws", headers=headers)
                    except aiohttp.WSServerHandshakeError as exc:
                        assert exc.status == 503
                        return None

                deadline = time.monotonic() + 30
                while (again := await reopen()) is None:
                    assert time.monotonic() < deadline, "the closed tab never freed its slot"
                    await asyncio.sleep(0.1)
                await again.receive(timeout=30)
                await again.close()
                await opened[1].close()

        asyncio.run(tabs())


def test_max_viewers_comes_from_the_config_too(home: Path) -> None:
    """``[serve] max_viewers`` (here through its environment variable) caps the tabs."""
    with serving(home, AGENT_TUI_SERVE__MAX_VIEWERS="1") as served:

        async def tabs() -> None:
            headers = {
                "Origin": served.base,
                "Cookie": f"agent_tui_token_{served.port}={served.token}",
            }
            async with aiohttp.ClientSession() as session:
                first = await session.ws_connect(f"{served.base}/ws", headers=headers)
                await first.receive(timeout=30)
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(f"{served.base}/ws", headers=headers)
                assert refused.value.status == 503
                await first.close()

        asyncio.run(tabs())
