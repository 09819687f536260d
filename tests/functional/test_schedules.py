"""Schedules fired by the executor's own timers: each run follows its recipe file, a broken edit
skips the run with its reason, a failure streak pauses the schedule, pause/resume and run now."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core import schedules, timed_work
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_schedule
from agent_tui.core.recipes import load_recipe
from agent_tui.core.store import Store
from tests.conftest import CLI, cli_env
from tests.helpers import the_store, wait_for


class MinuteClock:
    """Real time, shifted so that the next cron minute is a moment away: the executor's timers
    fire the schedule in a fraction of a second instead of up to a minute."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def before_next_minute(self, lead: float = 0.3) -> None:
        now = self()
        boundary = (int(now) // 60 + 1) * 60
        self.offset += boundary - lead - now


RECIPE = """title = "{title}"
[[steps]]
id = "say"
tool = "echo"
args = {{ text = "{text}" }}
"""


def _write(path: Path, title: str, text: str) -> None:
    path.write_text(RECIPE.format(title=title, text=text), encoding="utf-8")


@pytest.fixture
def clock() -> MinuteClock:
    return MinuteClock()


@pytest.fixture
async def running(
    home: Path, settings: Settings, clock: MinuteClock
) -> AsyncIterator[tuple[Store, Executor]]:
    store = the_store(home, clock=clock)
    executor = Executor(store, settings)
    await executor.start(detect_model=False)
    try:
        yield store, executor
    finally:
        await executor.stop()
        store.close()


def _goals(store: Store) -> list[dict]:
    return store.all("SELECT * FROM goals ORDER BY id")


def _output(store: Store, goal_id: int) -> str:
    row = store.one("SELECT result FROM steps WHERE goal_id = ?", (goal_id,))
    return json.loads(row["result"])["output"]


def _schedule(store: Store, schedule_id: int) -> dict:
    return store.one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))


async def _fire(store: Store, clock: MinuteClock, count: int) -> None:
    """Move to just before the next minute and wait until the executor has fired ``count``
    runs in all (started goals or skipped runs)."""
    clock.before_next_minute()

    def fired() -> bool:
        kinds = [e.kind for e in store.events_after(0)]
        return kinds.count("schedule.fired") + kinds.count("schedule.skipped") >= count

    await wait_for(fired, timeout=10)


def _settled(store: Store, goal_id: int) -> bool:
    row = store.one("SELECT status FROM goals WHERE id = ?", (goal_id,))
    return row is not None and row["status"] in ("completed", "failed")


async def test_each_run_follows_the_recipe_file_and_a_broken_edit_skips(
    running: tuple[Store, Executor], clock: MinuteClock, tmp_path: Path
) -> None:
    store, _ = running
    path = tmp_path / "daily.toml"
    _write(path, "daily", "first")
    schedule_id, _ = add_schedule(store, load_recipe(path), "* * * * *", recipe_path=path)
    await _fire(store, clock, 1)
    [first] = _goals(store)
    await wait_for(lambda: _settled(store, first["id"]))
    assert _output(store, first["id"]) == "first"

    _write(path, "daily v2", "second")  # the edit is what the next run does
    await _fire(store, clock, 2)
    second = _goals(store)[-1]
    await wait_for(lambda: _settled(store, second["id"]))
    assert second["title"] == "daily v2" and _output(store, second["id"]) == "second"
    assert _schedule(store, schedule_id)["title"] == "daily v2"

    path.write_text('title = "broken"\n[[steps]]\nid = "x"\ntool = "nope"\n', encoding="utf-8")
    await _fire(store, clock, 3)
    row = _schedule(store, schedule_id)
    assert row["last_status"] == "skipped" and row["failure_streak"] == 1
    assert len(_goals(store)) == 2  # no run from a broken recipe
    reason = schedules.last_skip(store, schedule_id)
    assert reason is not None and str(path) in reason and "nope" in reason
    assert row["next_run_at"] > clock()  # it fires again at its next time


async def test_a_failure_streak_pauses_the_schedule_and_resume_clears_it(
    running: tuple[Store, Executor], clock: MinuteClock, settings: Settings, tmp_path: Path
) -> None:
    store, executor = running
    settings.schedules.pause_after_failures = 2
    path = tmp_path / "failing.toml"
    path.write_text(
        'title = "failing"\n[[steps]]\nid = "r"\ntool = "read_file"\n'
        'args = { path = "missing.txt" }\n',
        encoding="utf-8",
    )
    schedule_id, _ = add_schedule(store, load_recipe(path), "* * * * *", recipe_path=path)
    for streak in (1, 2):
        await _fire(store, clock, streak)
        goal = _goals(store)[-1]
        await wait_for(lambda goal=goal: _settled(store, goal["id"]))
    await wait_for(lambda: not _schedule(store, schedule_id)["enabled"])
    [paused] = [e for e in store.events_after(0) if e.kind == "schedule.paused"]
    assert "after 2 failed runs in a row" in paused.message
    clock.before_next_minute(lead=-1)  # its time has come, but it is paused
    assert not timed_work.due(executor.store, executor.settings, executor.models)
    assert len(_goals(store)) == 2

    upcoming = schedules.resume(store, schedule_id)
    row = _schedule(store, schedule_id)
    assert row["enabled"] and row["failure_streak"] == 0 and upcoming > clock()


async def test_pause_and_run_now(
    running: tuple[Store, Executor], clock: MinuteClock, tmp_path: Path
) -> None:
    store, _ = running
    path = tmp_path / "r.toml"
    _write(path, "r", "now")
    schedule_id, first_time = add_schedule(store, load_recipe(path), "0 3 * * *", recipe_path=path)
    schedules.pause(store, schedule_id)
    goal_id = schedules.run_now(store, schedule_id)  # a paused schedule can still run now
    await wait_for(lambda: _settled(store, goal_id))
    row = _schedule(store, schedule_id)
    assert row["last_goal_id"] == goal_id and row["last_status"] == "completed"
    assert row["next_run_at"] == first_time and not row["enabled"]
    path.write_text("not toml [", encoding="utf-8")
    with pytest.raises(schedules.ScheduleError, match="TOML syntax error"):
        schedules.run_now(store, schedule_id)
    with pytest.raises(schedules.ScheduleError, match="no schedule 99"):
        schedules.pause(store, 99)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=cli_env(home), capture_output=True, text=True, timeout=60, check=False
    )


def test_schedules_commands(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    _write(path, "cli", "hello")
    added = _cli(home, "add", "--recipe", str(path), "--schedule", "0 3 * * *", "--json")
    schedule_id = str(json.loads(added.stdout)["schedule_id"])
    assert _cli(home, "schedules", "--pause", schedule_id).returncode == 0
    [row] = json.loads(_cli(home, "schedules", "--json").stdout)
    assert row["enabled"] is False
    assert "paused" in _cli(home, "schedules").stdout
    assert "resumed" in _cli(home, "schedules", "--resume", schedule_id).stdout
    goal = _cli(home, "schedules", "--run-now", schedule_id).stdout.strip()
    assert _cli(home, "worker", "--until-idle").returncode == 0
    shown = json.loads(_cli(home, "show", goal, "--json").stdout)
    assert shown["goal"]["status"] == "completed" and shown["goal"]["schedule_id"] == int(
        schedule_id
    )
    path.unlink()
    failed = _cli(home, "schedules", "--run-now", schedule_id)
    assert failed.returncode == 1 and "no such file" in failed.stderr
    assert "Traceback" not in failed.stderr
    again = _cli(home, "schedules", "--resume", schedule_id)
    assert again.returncode == 1 and "is not paused" in again.stderr
