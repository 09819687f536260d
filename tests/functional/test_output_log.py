"""An action's full output goes to a log file beside the database's capped copy; a log that
cannot be written fails the step plainly instead of losing output in silence."""

from __future__ import annotations

from pathlib import Path

from agent_tui.config import Settings
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
