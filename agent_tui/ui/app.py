"""The Textual app: a thin shell that wires the store, the executor, the bridge and the main screen.

:func:`create_app` is the one way to build it, for the CLI and the tests alike. The executor runs
on Textual's own asyncio loop, started when the first frame is on screen (Textual's ``Ready``; a
``call_after_refresh`` would go to the screen on top, and be lost if that screen, the welcome,
closed before it refreshed); it is stopped before the app exits, letting running steps finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import Theme

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui import themes
from agent_tui.ui.bridge import Bridge
from agent_tui.ui.commands import binding_commands
from agent_tui.ui.queries import has_goals
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.screens.main import MainScreen

if TYPE_CHECKING:
    from agent_tui.core.executor import Executor

log = logging.getLogger("agent_tui.ui")

QUIT_GRACE = 3.0
"""Seconds running steps get to finish when the app quits, before they are stopped."""
THEME_SETTING = "ui.theme"
"""The settings row that remembers the chosen theme across runs."""


class AgentTuiApp(App[None]):
    """Mission control: goals, steps, output, approvals and documents, live."""

    TITLE = "agent-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit agent-tui", id="quit"),
        Binding("T", "change_theme", "Theme", tooltip="Switch the theme", show=False, id="theme"),
    ]

    def __init__(self, store: Store, settings: Settings, *, executor: bool = True) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        watch = settings.executor.watch_interval_ms / 1000
        self.bridge = Bridge(store, listen=not executor, watch_interval=watch)
        self.embedded = executor
        """Whether this app runs the executor itself (else it is a viewer)."""
        self.executor: Executor | None = None
        """The embedded executor, once started (after the first frame)."""
        self.main = MainScreen(store, settings, executor=executor)
        self._stopped = False
        self._signals: list[int] = []
        self.theme_problems = self._load_themes()

    def _load_themes(self) -> str:
        """Register the built-in and user themes, apply the saved one; return any problems."""
        for theme in themes.BUILT_IN:
            self.register_theme(theme)
        loaded = themes.load_user_themes(paths.themes_dir())
        for theme in loaded.themes:
            self.register_theme(theme)
        saved = self.store.setting(THEME_SETTING)
        self.theme = saved if saved in self.available_themes else themes.DEFAULT_THEME
        return loaded.message

    def on_mount(self) -> None:
        if not self.is_headless:
            self._install_signal_handlers()
        self.push_screen(self.main)
        self.bridge.start(self, self.main)
        if self.theme_problems:
            self.notify(self.theme_problems, severity="error", markup=False, timeout=15)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if not has_goals(self.store):
            self.action_welcome()

    def action_welcome(self) -> None:
        """The welcome: paths, the model, the examples (shown on a first run; the palette's
        "Show the welcome" brings it back)."""
        from agent_tui.ui.screens.welcome import WelcomeScreen  # not needed for the first frame

        if isinstance(self.screen, WelcomeScreen):
            return
        welcome = WelcomeScreen(self.store, self.settings)

        def closed(goal_id: int | None) -> None:
            self.main.welcomed(goal_id, new_goal=welcome.wants_new_goal)

        self.push_screen(welcome, closed)

    def on_ready(self) -> None:
        # Textual's Ready comes before the first frame is written to the terminal when the app
        # mounts a screen of its own, so wait for the main screen's next refresh; the welcome's
        # first runs have nothing to count.
        if self.screen is self.main:
            self.main.call_after_refresh(self._after_first_frame)
        else:
            self._after_first_frame()

    def _after_first_frame(self) -> None:
        """Start the executor as a task of its own."""
        if self.embedded:
            self.run_worker(self._start_executor(), name="start the executor", exit_on_error=False)

    def _remember_theme(self, theme: Theme) -> None:
        if self.store.setting(THEME_SETTING) != theme.name:
            self.store.set_setting(THEME_SETTING, theme.name)

    async def _start_executor(self) -> None:
        # Imported here, not at the top: its imports (the scheduler, the tools) would otherwise
        # delay the first frame by some 70 ms.
        from agent_tui.core.executor import Executor

        if self._stopped:
            return
        self.executor = Executor(self.store, self.settings, kind="tui", sinks=[self.bridge])
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
        if screen is self.main:
            yield SystemCommand(
                "Show the welcome",
                "where the data lives, the model, the example recipes",
                self.action_welcome,
            )

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

    def _install_signal_handlers(self) -> None:
        """SIGTERM and SIGHUP (the terminal closed, the SSH session dropped) quit as ``q`` does,
        without asking: running steps get the grace period, then are interrupted and recorded."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self._signalled)
            except (NotImplementedError, RuntimeError, ValueError):
                return
            self._signals.append(sig)

    def _signalled(self) -> None:
        async def stop() -> None:
            await self.shutdown_core()
            self.exit()

        self.call_later(stop)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        await self.shutdown_core()


def create_app(store: Store, settings: Settings, executor: bool = True) -> AgentTuiApp:
    """The app as the CLI runs it: ``executor=False`` makes a viewer of another process's work."""
    return AgentTuiApp(store, settings, executor=executor)
