"""The user's keymap ([keys] by binding id) and the one handler for a failed background worker."""

from __future__ import annotations

import subprocess
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.widgets import Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.help import HelpScreen
from agent_tui.ui.widgets.approvals import Approvals
from agent_tui.ui.worker_errors import ReportsWorkerErrors
from tests.conftest import CLI, cli_env
from tests.helpers import workspace_of
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until


async def test_a_remapped_key_does_the_action_and_the_old_key_no_longer_does(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings.keys = {"approve": "y", "help": "f1"}
    goal_id = add_file_goal(store, shell_recipe(tmp_path / "t.toml", "touch canary"))
    canary = workspace_of(store, goal_id) / "canary"
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        approvals = app.main.query_one(Approvals)
        await wait_until(pilot, lambda: approvals.rows, "the approval")
        app.main.bring_queue_forward()
        await pilot.pause()
        await pilot.press("a")  # no longer approve
        await pilot.pause(0.3)
        assert goal_status(store, goal_id) != "completed" and not canary.exists()
        await pilot.press("y")
        await wait_until(pilot, lambda: goal_status(store, goal_id) == "completed", "completion")
        assert canary.exists()
        await pilot.press("f1")  # help moved too, and shows the new keys
        assert isinstance(app.screen, HelpScreen)
        listed = dict(app.screen.keys)
        assert "Approve the highlighted approval" in listed["y"]
        assert "Approve the highlighted approval" not in listed.get("a", "")


async def test_an_unknown_binding_id_is_told_not_ignored(store: Store, settings: Settings) -> None:
    settings.keys = {"aprove": "y"}
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        toasts = [str(n.message) for n in app._notifications]
        assert any("no binding has the id aprove" in t for t in toasts), toasts


def test_agent_tui_keys_lists_the_ids_and_refuses_an_unknown_one(home: Path) -> None:
    listed = subprocess.run([*CLI, "keys"], env=cli_env(home), capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["approve", "a"] for line in listed.stdout.splitlines())
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text('[keys]\napprove = "y"\nnope = "x"\n')
    remapped = subprocess.run([*CLI, "keys"], env=cli_env(home), capture_output=True, text=True)
    assert remapped.returncode == 1
    assert any(line.split()[:2] == ["approve", "y"] for line in remapped.stdout.splitlines())
    assert "no binding has the id nope" in remapped.stderr


class Failing(ReportsWorkerErrors, App[None]):
    def compose(self) -> ComposeResult:
        yield Static("x")

    def on_mount(self) -> None:
        self.fail()

    @work(exit_on_error=False, name="counting the goals")
    async def fail(self) -> None:
        raise OSError("disk on fire")


async def test_a_failed_background_worker_becomes_a_toast_not_a_silent_stop() -> None:
    app = Failing()
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
        toasts = [str(n.message) for n in app._notifications]
        assert any("counting the goals failed: OSError: disk on fire" in t for t in toasts), toasts
        assert app.is_running
