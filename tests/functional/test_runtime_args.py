"""Arguments that only exist at run time: a template filled from an earlier step's result. A
recipe is checked when added, but what the earlier step returns is known only when it ran; a
rendered argument that does not fit fails the step, saying why, and nothing runs."""

from __future__ import annotations

from pathlib import Path

from agent_tui.config import Settings
from agent_tui.core.store import Store
from tests.helpers import add, echo, goal_status, run_idle, steps, workspace_of


def actions_of(store: Store, step_id: int) -> list[dict[str, object]]:
    return store.all("SELECT * FROM actions WHERE step_id = ?", (step_id,))


async def test_a_field_the_earlier_result_lacks_fails_the_step(
    store: Store, settings: Settings
) -> None:
    goal = add(
        store,
        {
            "title": "t",
            "steps": [
                echo("a", "x"),
                echo("b", "{{ steps.a.result.nope }}", depends_on=["a"]),
            ],
        },
    )

    await run_idle(store, settings)

    b = steps(store, goal)["b"]
    assert b["status"] == "failed"
    assert b["error"] == "template: steps.a.result.nope: no field 'nope' in result (has: chars)"
    assert actions_of(store, b["id"]) == []
    assert goal_status(store, goal) == "failed"


async def test_a_rendered_path_outside_the_workspace_writes_nothing(
    store: Store, settings: Settings, home: Path
) -> None:
    settings.policy.tools["write_file"] = "allow"
    goal = add(
        store,
        {
            "title": "t",
            "steps": [
                echo("a", "../escaped.txt"),
                {
                    "id": "b",
                    "tool": "write_file",
                    "args": {"path": "{{ steps.a.output }}", "content": "x"},
                    "depends_on": ["a"],
                },
            ],
        },
    )

    await run_idle(store, settings)

    b = steps(store, goal)["b"]
    assert b["status"] == "failed"
    assert b["error"] == "path '../escaped.txt' is outside the workspace"
    [action] = actions_of(store, b["id"])
    assert action["status"] == "failed" and action["error"] == b["error"]
    assert not (workspace_of(store, goal).parent / "escaped.txt").exists()
    assert goal_status(store, goal) == "failed"
