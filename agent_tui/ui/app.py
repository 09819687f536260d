"""The Textual app: a thin shell that wires the store, the executor, the bridge and the main screen.

:func:`create_app` is the one way to build it, for the CLI and the tests alike. The executor runs
on a thread and event loop of its own with its own connection
(:class:`~agent_tui.core.executor_thread.ExecutorThread`), so nothing it waits for holds up a key;
it is started when the first frame is on screen (Textual's ``Ready``; a ``call_after_refresh``
would go to the screen on top, and be lost if that screen, the welcome, closed before it
refreshed), and stopped before the app exits, letting running steps finish. The TUI's own writes
go through :class:`~agent_tui.ui.writes.Writes`, which never waits for the database on the loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.store import Away, Event, Store, StoreError, open_store
from agent_tui.core.store.panes import has_goals
from agent_tui.ui import keymap, themes
from agent_tui.ui.away import SurvivesAway, away_safe
from agent_tui.ui.bridge import Bridge
from agent_tui.ui.commands import binding_commands
from agent_tui.ui.driver import QuietLinuxDriver
from agent_tui.ui.screens.dialogs import ConfirmScreen
from agent_tui.ui.screens.main import MainScreen
from agent_tui.ui.worker_errors import ReportsWorkerErrors
from agent_tui.ui.writes import DEFERRED, Writes

if TYPE_CHECKING:
    from agent_tui.core.executor_thread import ExecutorThread

log = logging.getLogger("agent_tui.ui")

QUIT_GRACE = 3.0
"""Seconds running steps get to finish when the app quits, before they are stopped."""
HANGUP_EXIT_GRACE = 5.0
"""After the terminal is gone (SIGHUP) and the core has stopped, seconds Textual gets to exit
before the process ends itself: nobody can see it any more, and a reader of a closed terminal
must not spin on."""
THEME_SETTING = "ui.theme"
"""The settings row that remembers the chosen theme across runs."""


class AgentTuiApp(SurvivesAway, ReportsWorkerErrors, App[None]):
    """Mission control: goals, steps, output, approvals and documents, live."""

    TITLE = "agent-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit agent-tui", id="quit"),
        Binding("T", "change_theme", "Theme", tooltip="Switch the theme", show=False, id="theme"),
    ]

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, except that its terminal driver's input thread does not poll."""
        chosen = super().get_driver_class()
        return QuietLinuxDriver if chosen is LinuxDriver else chosen

    def __init__(self, store: Store, settings: Settings, *, executor: bool = True) -> None:
        super().__init__()
        store.patience = 0.0  # its reads run on the event loop: a server away is told, not waited
        self.store = store
        self.settings = settings
        watch = settings.executor.watch_interval_ms / 1000
        self.bridge = Bridge(store, listen=True, watch_interval=watch)
        self.embedded = executor
        """Whether this app runs the executor itself (else it is a viewer)."""
        self.collect_after_first_frame = False
        """Turn the cyclic garbage collector on after the first frame (the CLI starts without)."""
        self.executor: ExecutorThread | None = None
        """The embedded executor on its own thread, once started (after the first frame)."""
        self.writes: Writes | None = None
        """The TUI's writes (see :mod:`agent_tui.ui.writes`), once mounted."""
        self._away_probe: Timer | None = None
        """While the database server is away: the timer that tries it every second."""
        self._waiting: dict[str, list[int]] = {}
        """Who waits for the database now ("executor", "tui") and the lock holders' pids."""
        store.listeners.append(self._forward)
        self.main = MainScreen(store, settings, executor=executor)
        self._stopped = False
        self._core_stopped = threading.Event()
        """Set once the executor has stopped and the TUI's writes are saved."""
        self._signals: list[int] = []
        self.theme_problems = self._load_themes()
        self.set_keymap(settings.keys)
        self.keymap_problems = keymap.problems(settings.keys) if settings.keys else ""

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
        loop = asyncio.get_running_loop()
        self.writes = Writes(
            self.store,
            loop,
            connect=lambda: open_store(self.settings, self.store.address),
            on_waiting=lambda waiting, pids: self.database_waiting("tui", waiting, pids),
            on_error=self._write_failed,
        )
        if not self.is_headless:
            self._install_signal_handlers()
        self.push_screen(self.main)
        self.bridge.start(self, self.main)
        for problem in (self.theme_problems, self.keymap_problems):
            if problem:
                self.notify(problem, severity="error", markup=False, timeout=15)
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
        """Start the executor as a task of its own (and the garbage collector, when asked)."""
        if self.collect_after_first_frame:
            # Not gc.freeze() first: with start-up's objects out of its counts, the collector
            # ran full collections so often that typing in the goal filter took twice as long.
            gc.enable()
        if self.embedded:
            self.run_worker(self._start_executor(), name="start the executor", exit_on_error=False)

    def _remember_theme(self, theme: Theme) -> None:
        if self.store.setting(THEME_SETTING) != theme.name:
            self.write(Store.set_setting, THEME_SETTING, theme.name, what="remember the theme")

    def write(self, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
        """One write of the TUI's (see :class:`Writes.run`); a storage error becomes a toast and
        a log line, never a crash, and :data:`DEFERRED` (not done now) is returned."""
        assert self.writes is not None
        try:
            return self.writes.run(fn, *args, what=what, **kwargs)
        except (sqlite3.Error, StoreError, OSError) as exc:
            log.exception("the TUI could not %s", what)
            self._write_failed(f"could not {what}: {exc}")
            return DEFERRED

    def _write_failed(self, message: str) -> None:
        self.notify(message, severity="error", markup=False, timeout=15)

    def _forward(self, event: Event) -> None:
        """The TUI's own writes reach the executor on its thread (an approval dispatches now)."""
        if self.executor is not None:
            self.executor.heard(event)

    def database_waiting(self, who: str, waiting: bool, holders: list[int]) -> None:
        """Someone here ("executor" or "tui") started or stopped waiting for the database's lock;
        the header says so while anyone waits. Call it on the app's loop."""
        was = bool(self._waiting)
        if waiting:
            self._waiting[who] = holders
        else:
            self._waiting.pop(who, None)
        if waiting and who == "tui":
            who_holds = f" (held by pid {', '.join(map(str, holders))})" if holders else ""
            self.notify(
                f"the database is busy{who_holds}: your change is saved when it is free",
                severity="warning",
                markup=False,
            )
        if was != bool(self._waiting) or waiting:
            pids = sorted({pid for found in self._waiting.values() for pid in found})
            self.main.database_waiting(bool(self._waiting), pids)

    def database_away(self, error: Away) -> None:
        """A read found the database server away (see :mod:`agent_tui.ui.away`): say so in the
        header and try it every second until it answers, then read everything again."""
        if self._away_probe is not None:
            return
        log.warning("the database server is away: %s", error)
        self.main.database_away(True)
        self._away_probe = self.set_interval(1.0, self._probe_database, name="database-away")

    def _probe_database(self) -> None:
        try:
            self.store.data_version()
        except Away:
            return
        if self._away_probe is not None:
            self._away_probe.stop()
            self._away_probe = None
        log.warning("the database server answers again")
        self.main.database_away(False)
        away_safe(self, self.main.refresh_all)()

    async def _start_executor(self) -> None:
        # Imported here, not at the top: its imports (the scheduler, the tools) would otherwise
        # delay the first frame by some 70 ms.
        from agent_tui.core.executor_thread import ExecutorThread

        if self._stopped:
            return
        loop = asyncio.get_running_loop()

        def busy(waiting: bool, holders: list[int]) -> None:  # on the executor's thread
            try:
                loop.call_soon_threadsafe(self.database_waiting, "executor", waiting, holders)
            except RuntimeError:
                pass

        self.executor = ExecutorThread(
            self.store.address, self.settings, kind="tui", sinks=[self.bridge], on_busy=busy
        )
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
        running = self.executor.running if self.executor is not None else 0
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
        if self.writes is not None:
            if self.writes.waiting:
                self.notify("saving your changes: waiting for the database", markup=False)
            await self.writes.close()
        if self._forward in self.store.listeners:
            self.store.listeners.remove(self._forward)
        self._core_stopped.set()

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

        threading.Thread(
            target=self._end_when_stopped, name="agent-tui hangup", daemon=True
        ).start()
        self.call_later(stop)

    def _end_when_stopped(self) -> None:
        """Once the core has stopped (running steps recorded, changes saved), give Textual a
        moment to exit, then end the process: its terminal is gone."""
        self._core_stopped.wait()
        time.sleep(HANGUP_EXIT_GRACE)
        log.warning("the terminal is gone and the app had not exited: ending the process")
        logging.shutdown()
        os._exit(0)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        await self.shutdown_core()


def create_app(store: Store, settings: Settings, executor: bool = True) -> AgentTuiApp:
    """The app as the CLI runs it: ``executor=False`` makes a viewer of another process's work."""
    return AgentTuiApp(store, settings, executor=executor)
