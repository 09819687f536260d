"""The Textual app: a thin shell that wires the store, the executor, the bridge and the main screen.

:func:`create_app` is the one way to build it, for the CLI and the tests alike. The executor runs
on Textual's own asyncio loop, started after the first frame so the screen appears at once; it is
stopped before the app exits, letting running steps finish for a moment first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.store import Store
from agent_tui.ui.bridge import Bridge
from agent_tui.ui.commands import binding_commands
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.screens.main import MainScreen

log = logging.getLogger("agent_tui.ui")

QUIT_GRACE = 3.0
"""Seconds running steps get to finish when the app quits, before they are stopped."""


class AgentTuiApp(App[None]):
    """Mission control: goals, steps, output, approvals and documents, live."""

    TITLE = "agent-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit agent-tui", id="quit"),
    ]

    def __init__(self, store: Store, settings: Settings, *, executor: bool = True) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        watch = settings.executor.watch_interval_ms / 1000
        self.bridge = Bridge(store, listen=not executor, watch_interval=watch)
        self.executor: Executor | None = (
            Executor(store, settings, kind="tui", sinks=[self.bridge]) if executor else None
        )
        self.main = MainScreen(store, settings, executor=executor)
        self._stopped = False

    def on_mount(self) -> None:
        self.push_screen(self.main)
        self.bridge.start(self, self.main)
        if self.executor is not None:
            self.call_after_refresh(self._start_executor)

    async def _start_executor(self) -> None:
        assert self.executor is not None
        try:
            await self.executor.start()
        except Exception as exc:
            log.exception("the executor did not start")
            self.notify(
                f"the executor did not start: {type(exc).__name__}: {exc}",
                severity="error",
                markup=False,
                timeout=30,
            )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from binding_commands(self, screen)

    async def action_quit(self) -> None:
        """Quit; when steps are running here, ask first, because quitting stops them."""
        running = len(self.executor.running) if self.executor is not None else 0
        if not running:
            await self.shutdown_core()
            self.exit()
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"stopping: {running} running step(s) get {QUIT_GRACE:.0f} s")
                await self.shutdown_core()
                self.exit()

        self.push_screen(
            ConfirmScreen(
                f"{running} step(s) are running here. Quit anyway?",
                f"They get {QUIT_GRACE:.0f} s to finish. Whatever still runs is then "
                "interrupted and waits in the approvals queue: run again, mark done or skip.",
            ),
            answered,
        )

    async def shutdown_core(self) -> None:
        """Stop the bridge and the executor; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.bridge.stop()
        if self.executor is not None:
            await self.executor.stop(grace=QUIT_GRACE)

    async def on_unmount(self) -> None:
        await self.shutdown_core()


def create_app(store: Store, settings: Settings, executor: bool = True) -> AgentTuiApp:
    """The app as the CLI runs it: ``executor=False`` makes a viewer of another process's work."""
    return AgentTuiApp(store, settings, executor=executor)
