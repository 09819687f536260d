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

        started = time.monotonic()
        asyncio.run(open_tabs())
        assert time.monotonic() - started < 30


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
