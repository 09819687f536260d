"""textual-serve's ``Server``, with the :class:`~agent_tui.serve.guard.Guard` and tracked app processes.

textual-serve starts one app process per browser tab (``AppService``) and keeps no list of them; a
stop of the server leaves them running. Here each app is started without a shell, in a session
(and so a process group) of its own, and registered, so :meth:`SecureServer.stop_apps` can end the
whole group of every app: SIGTERM, then SIGKILL for whatever is left after a grace period.

At most ``max_viewers`` tabs hold an app at once: a slot is taken before the app starts and freed
once the tab's websocket has closed and its app has ended. One tab more gets an HTTP 503 page
that says so, both for the page and for its websocket.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import signal
from asyncio.subprocess import PIPE, Process
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from agent_tui.serve.guard import Guard

log = logging.getLogger("agent_tui.serve")

FULL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>agent-tui: every viewer is in use</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>agent-tui: every viewer is in use</h1>
<p>This server runs at most {limit} browser tabs at once, and {limit} browser tabs are open.
Each tab runs its own copy of the app, so close one of them, then reload this page.</p>
<p>Whoever runs <code>agent-tui serve</code> can allow more with <code>--max-viewers N</code> or
<code>max_viewers = N</code> under <code>[serve]</code> in the config.</p>
</body></html>
"""


class ViewerService(AppService):
    """One tab's app: its own process group, registered with the server while it runs."""

    def __init__(
        self, argv: list[str], env: dict[str, str], registry: set[ViewerService], **kwargs: Any
    ) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.extra_env = env
        self.registry = registry
        self._reaper: asyncio.Task[None] | None = None

    @property
    def process(self) -> Process | None:
        return self._process

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height) | self.extra_env
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            env=environment,
            start_new_session=True,
        )
        self.registry.add(self)
        self._reaper = asyncio.create_task(self._forget_when_ended(process))
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def _forget_when_ended(self, process: Process) -> None:
        await process.wait()
        self.registry.discard(self)

    async def run(self) -> None:
        """Relay the app's output; when the app has ended, end the browser's session too."""
        try:
            await super().run()
        finally:
            await self.remote_close()

    async def terminate(self, grace: float) -> None:
        """End the app's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        process = self._process
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            log.warning("app process %d ignored SIGTERM for %.0f s; killing it", process.pid, grace)
        _signal_group(process.pid, signal.SIGKILL)  # anything the app left in its group
        await process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class SecureServer(Server):
    """Serves ``argv`` (the viewer app) per tab, behind a token and an origin check."""

    def __init__(
        self,
        argv: list[str],
        guard: Guard,
        *,
        host: str,
        port: int,
        public_url: str | None,
        env: dict[str, str] | None = None,
        max_viewers: int = 8,
    ) -> None:
        super().__init__(
            " ".join(argv), host=host, port=port, title="agent-tui", public_url=public_url
        )
        self.argv = argv
        self.guard = guard
        self.env = dict(env or {})
        self.apps: set[ViewerService] = set()
        self.max_viewers = max_viewers
        self.viewers = 0
        """Tabs holding a slot: their websocket is open or their app has not ended yet."""

    def full(self) -> web.Response | None:
        """The 503 page when every viewer slot is taken, else ``None``."""
        if self.viewers < self.max_viewers:
            return None
        page = FULL_PAGE.format(limit=html.escape(str(self.max_viewers)))
        return web.Response(
            status=503, text=page, content_type="text/html", headers={"Retry-After": "5"}
        )

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's page, or the 503 page when no viewer slot is free."""
        refusal = self.full()
        if refusal is not None:
            return refusal
        # textual-serve's method is wrapped by aiohttp_jinja2, which renders it into a response.
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def build_app(self) -> web.Application:
        """textual-serve's application with the guard in front of every route."""
        app = await self._make_app()
        app.middlewares.append(self.guard.middleware)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; ``agent-tui serve`` prints the URL itself."""

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """A tab's websocket, if a viewer slot is free (the 503 page if not); the slot is held
        until the websocket has closed and the app has ended."""
        refusal = self.full()
        if refusal is not None:
            return refusal
        self.viewers += 1  # no await between the check and this: two tabs cannot take one slot
        try:
            return await self._run_viewer(request)
        finally:
            self.viewers -= 1

    async def _run_viewer(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve 1.1.3's handler, with :class:`ViewerService` as the app service."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        app_service: ViewerService | None = None
        try:
            await websocket.prepare(request)
            app_service = ViewerService(
                self.argv,
                self.env,
                self.apps,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.exception(error)
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket

    async def stop_apps(self, grace: float = 3.0) -> int:
        """End every tab's app process group; the number of apps that were running."""
        apps = list(self.apps)
        await asyncio.gather(*(app.terminate(grace) for app in apps))
        return len(apps)
