"""An action's full output goes to a log file beside the database's capped copy; a log that
cannot be written fails the step plainly instead of losing output in silence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_tui import cli
from agent_tui.config import Settings
from agent_tui.core.export import export_goal, render_markdown
from agent_tui.core.output import stored_output
from agent_tui.core.store import Store
from tests.helpers import add, goal_status, run_idle, shell, steps


async def test_a_log_that_cannot_be_created_fails_the_step_and_says_why(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings.policy.tools["shell"] = "allow"
    settings.limits.output_cap_bytes = 4096
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output directory should be")
    goal = add(store, {"title": "loud", "steps": [shell("s", "seq 1 20000")]})

    await run_idle(store, settings, output_dir=blocker / "out")

    step = steps(store, goal)["s"]
    assert step["status"] == "failed"
    assert step["error"].startswith(f"cannot create {blocker / 'out'}")
    assert step["error"].endswith(
        "Not a directory: the command ran, but its output was not all kept"
    )
    assert goal_status(store, goal) == "failed"
    action = store.one("SELECT * FROM actions WHERE step_id = ?", (step["id"],))
    assert action["exit_code"] == 0  # the command itself succeeded
    assert action["output_bytes"] == len("".join(f"{i}\n" for i in range(1, 20001)))
    assert stored_output(store, action["id"]).endswith("19999\n20000\n")  # the tail is kept
    assert blocker.read_text() == "a file where the output directory should be"


async def test_where_the_whole_output_is_is_recorded_and_said(
    store: Store, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capped output's row says which file on which host has all of it; `show`, `--json` and
    the export say it to a viewer on any host. An output whole in the database is not said to
    be cut (whether it has a log file depends on how long it ran: the first batch makes one)."""
    settings.policy.tools["shell"] = "allow"
    settings.limits.output_cap_bytes = 4096
    settings.executor.host = "buildbox"  # the name this host goes by: not the viewer's
    goal = add(
        store, {"title": "loud", "steps": [shell("s", "seq 1 20000"), shell("q", "echo quiet")]}
    )
    await run_idle(store, settings, output_dir=tmp_path / "out")

    loud, quiet = store.all("SELECT * FROM actions WHERE goal_id = ? ORDER BY id", (goal,))
    log = tmp_path / "out" / f"{loud['id']}.log"
    assert (loud["output_host"], loud["output_log"]) == ("buildbox", str(log))
    assert log.read_text() == "".join(f"{i}\n" for i in range(1, 20001))
    assert quiet["output_log"] is None or Path(quiet["output_log"]).read_text() == "quiet\n"

    place = f"all of it: {log} on host buildbox"
    assert cli.main(["show", str(goal)]) == 0
    shown = capsys.readouterr().out
    assert f"(the last 4096 of {loud['output_bytes']} bytes; {place})" in shown
    assert shown.count("all of it:") == 1
    assert cli.main(["show", str(goal), "--json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert actions[0]["output_log"] == {"host": "buildbox", "path": str(log)}
    assert actions[1]["output_bytes"] == len("quiet\n")
    document = export_goal(store, goal)
    assert document is not None and place in render_markdown(document)
