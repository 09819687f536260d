"""A running TUI shows what another *process* does to the database: the real CLI in a subprocess
adds a goal, runs a worker, is asked for an approval and decides it. The TUI's safety net (its
``data_version`` check) is set to a minute, longer than any wait here: only the doorbell the other
process rings after each commit can tell it in time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.approvals import Approvals
from agent_tui.ui.widgets.goal_list import GoalList
from tests.conftest import CLI, cli_env
from tests.ui.conftest import SIZE, shell_recipe, wait_until


async def cli(pilot: Pilot[Any], home: Path, *args: str) -> tuple[int, str]:
    """Run the real program in another process while the app keeps running."""
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        env=cli_env(home),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert b"Traceback" not in err, err.decode()
    return proc.returncode or 0, out.decode()


async def test_the_tui_shows_another_processes_work(
    store: Store, settings: Settings, home: Path, tmp_path: Path
) -> None:
    recipe = shell_recipe(tmp_path / "r.toml", "echo from-another-process")
    settings.executor.watch_interval_ms = 60_000
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        goals = app.main.query_one(GoalList)
        approvals = app.main.query_one(Approvals)
        code, out = await cli(pilot, home, "add", "--recipe", str(recipe), "--json")
        assert code == 0
        goal_id = json.loads(out)["id"]
        await wait_until(pilot, lambda: goals.row(goal_id) is not None, "the goal another added")
        assert goals.row(goal_id).status == "queued"  # type: ignore[union-attr]

        code, _ = await cli(pilot, home, "worker", "--until-idle")
        assert code == 3  # an approval waits
        await wait_until(pilot, lambda: len(approvals.rows) == 1, "the approval another asked")
        [item] = approvals.rows
        assert "echo from-another-process" in str(item["detail"])
        await wait_until(
            pilot,
            lambda: getattr(goals.row(goal_id), "status", None) == "waiting",
            "the goal waiting for approval",
        )

        assert (await cli(pilot, home, "approve", str(item["id"])))[0] == 0
        await wait_until(pilot, lambda: not approvals.rows, "the approval decided elsewhere")
        assert (await cli(pilot, home, "worker", "--until-idle"))[0] == 0
        await wait_until(
            pilot,
            lambda: getattr(goals.row(goal_id), "status", None) == "completed",
            "the goal another process completed",
        )
