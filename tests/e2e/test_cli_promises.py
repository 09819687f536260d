"""The promises of ``reject``, ``dry-run`` and ``add --dry-run``, through the real program."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import CLI, cli_env

ALLOW_SHELL = {"AGENT_TUI_POLICY__TOOLS": '{ shell = "allow" }'}


def run(home: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [*CLI, *args],
        env=cli_env(home, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert out.returncode == 0, f"{args}: {out.stderr}"
    assert "Traceback" not in out.stderr
    return out


def touch_recipe(tmp_path: Path, name: str) -> Path:
    """A recipe whose only step leaves a file in its workspace: the visible side effect."""
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'title = "{name}"\n[[steps]]\nid = "t"\ntool = "shell"\n'
        f'args = {{ command = "touch {name}-marker" }}\n'
    )
    return path


def show(home: Path, goal: str) -> dict:
    return json.loads(run(home, "show", goal, "--json").stdout)


def test_a_rejected_action_never_runs(tmp_path: Path, home: Path) -> None:
    goal = run(home, "add", "--recipe", str(touch_recipe(tmp_path, "rej"))).stdout.strip()
    assert run(home, "worker", "--until-idle", check=False).returncode == 3
    [item] = json.loads(run(home, "approvals", "--json").stdout)
    assert item["detail"] == "$ touch rej-marker"
    out = run(home, "reject", str(item["id"]), "--reason", "not on my machine")
    assert out.stdout.strip() == f"approval {item['id']}: rejected"
    assert json.loads(run(home, "approvals", "--json").stdout) == []

    run(home, "worker", "--until-idle", check=False)
    shown = show(home, goal)
    [action] = shown["actions"]
    assert action["status"] == "rejected" and action["exit_code"] is None
    assert shown["steps"][0]["status"] == "failed"
    assert "not on my machine" in shown["steps"][0]["error"]
    assert shown["goal"]["status"] == "failed"
    assert not (Path(shown["goal"]["workspace"]) / "rej-marker").exists()
    again = run(home, "reject", str(item["id"]), check=False)
    assert again.returncode == 1 and "already rejected" in again.stderr


def test_the_global_dry_run_records_side_effects_and_runs_none(tmp_path: Path, home: Path) -> None:
    assert run(home, "dry-run").stdout.strip() == "dry run off"
    on = run(home, "dry-run", "on").stdout.strip()
    assert on == "dry run on: side-effecting tools are recorded, never run"
    assert run(home, "dry-run").stdout.strip() == on  # the setting is stored, not per process
    goal = run(home, "add", "--recipe", str(touch_recipe(tmp_path, "dry"))).stdout.strip()
    run(home, "worker", "--until-idle", **ALLOW_SHELL)
    shown = show(home, goal)
    [action] = shown["actions"]
    assert action["status"] == "dry_run" and action["preview"] == "$ touch dry-marker"
    assert shown["goal"]["status"] == "completed"
    workspace = Path(shown["goal"]["workspace"])
    assert not (workspace / "dry-marker").exists()

    assert run(home, "dry-run", "off").stdout.strip() == "dry run off"
    goal = run(home, "add", "--recipe", str(touch_recipe(tmp_path, "wet"))).stdout.strip()
    run(home, "worker", "--until-idle", **ALLOW_SHELL)
    shown = show(home, goal)
    assert [a["status"] for a in shown["actions"]] == ["succeeded"]
    assert (Path(shown["goal"]["workspace"]) / "wet-marker").exists()


def test_add_dry_run_is_for_that_goal_alone(tmp_path: Path, home: Path) -> None:
    dry = run(home, "add", "--recipe", str(touch_recipe(tmp_path, "one")), "--dry-run").stdout
    wet = run(home, "add", "--recipe", str(touch_recipe(tmp_path, "two"))).stdout
    run(home, "worker", "--until-idle", **ALLOW_SHELL)
    dry_goal, wet_goal = show(home, dry.strip()), show(home, wet.strip())
    assert [a["status"] for a in dry_goal["actions"]] == ["dry_run"]
    assert not (Path(dry_goal["goal"]["workspace"]) / "one-marker").exists()
    assert [a["status"] for a in wet_goal["actions"]] == ["succeeded"]
    assert (Path(wet_goal["goal"]["workspace"]) / "two-marker").exists()


def test_a_removed_schedule_is_gone(tmp_path: Path, home: Path) -> None:
    added = run(
        home,
        "add",
        "--recipe",
        str(touch_recipe(tmp_path, "cron")),
        "--schedule",
        "0 3 * * *",
        "--json",
    )
    schedule_id = str(json.loads(added.stdout)["schedule_id"])
    [row] = json.loads(run(home, "schedules", "--json").stdout)
    assert row["cron"] == "0 3 * * *" and row["enabled"] is True and row["next_run_at"]
    listed = run(home, "schedules").stdout
    assert "0 3 * * *" in listed and "cron" in listed
    assert run(home, "schedules", "--remove", schedule_id).stdout.strip() == (
        f"schedule {schedule_id} removed"
    )
    assert json.loads(run(home, "schedules", "--json").stdout) == []
    gone = run(home, "schedules", "--remove", schedule_id, check=False)
    assert gone.returncode == 4 and f"no schedule {schedule_id}" in gone.stderr
