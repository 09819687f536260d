"""The headless product, driven only through the real CLI as a user would script it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import CLI, ROOT, cli_env


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [*CLI, *args],
        env=cli_env(home),
        stdin=subprocess.DEVNULL,  # as in CI and scripts: never a terminal to prompt on
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert out.returncode == 0, f"{args}: {out.stderr}"
        assert "Traceback" not in out.stderr
    return out


def test_approval_flow_from_the_cli_alone(tmp_path: Path, home: Path) -> None:
    recipe = tmp_path / "report.toml"
    recipe.write_text("""
title = "Disk report"
[[steps]]
id = "disk"
tool = "shell"
args = { command = "echo disk-report-marker; df -h . | tail -n 1" }

[[steps]]
id = "doc"
tool = "write_document"
depends_on = ["disk"]
args = { name = "Disk", content = "# Disk\\n\\n{{ steps.disk.output }}" }
""")
    goal = json.loads(run(home, "add", "--recipe", str(recipe), "--json").stdout)["id"]

    first = run(home, "worker", "--until-idle", check=False)
    assert first.returncode == 3, first.stderr  # blocked: a decision is pending
    assert "approval 1 needed" in first.stderr
    assert "goal 1: 1 approval(s) wait" in first.stderr
    shown = json.loads(run(home, "show", str(goal), "--json").stdout)
    assert shown["goal"]["status"] == "waiting"
    assert {s["key"]: s["status"] for s in shown["steps"]} == {
        "disk": "waiting_approval",
        "doc": "pending",
    }

    approvals = json.loads(run(home, "approvals", "--json").stdout)
    [item] = approvals
    assert item["detail"] == "$ echo disk-report-marker; df -h . | tail -n 1"
    text = run(home, "approvals").stdout
    assert "$ echo disk-report-marker; df -h . | tail -n 1" in text

    assert (
        run(home, "approve", str(item["id"])).stdout.strip() == f"approval {item['id']}: approved"
    )
    again = run(home, "approve", str(item["id"]), check=False)
    assert again.returncode == 1 and "already approved" in again.stderr

    run(home, "worker", "--until-idle")
    shown = json.loads(run(home, "show", str(goal), "--json").stdout)
    assert shown["goal"]["status"] == "completed"
    [shell_action] = [a for a in shown["actions"] if a["tool"] == "shell"]
    assert shell_action["exit_code"] == 0
    assert shell_action["output"].startswith("disk-report-marker\n")
    [doc] = shown["artifacts"]
    assert "disk-report-marker" in doc["content"]
    listed = json.loads(run(home, "ls", "--json").stdout)
    assert listed[0]["status"] == "completed" and listed[0]["progress"] == 1.0


def test_examples_validate_and_the_offline_one_runs(home: Path) -> None:
    examples = sorted((ROOT / "examples").glob("*.toml"))
    assert len(examples) >= 3
    for path in examples:
        out = run(home, "add", "--recipe", str(path), "--dry-run", "--json")
        assert "id" in json.loads(out.stdout) or "schedule_id" in json.loads(out.stdout)


def test_pause_resume_cancel_retry_by_cli(tmp_path: Path, home: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'title = "t"\n[[steps]]\nid = "a"\ntool = "read_file"\nargs = { path = "missing.txt" }\n'
    )
    goal = run(home, "add", "--recipe", str(recipe)).stdout.strip()
    run(home, "pause", goal)
    assert "already paused" in run(home, "pause", goal, check=False).stderr
    run(home, "worker", "--until-idle")
    assert json.loads(run(home, "show", goal, "--json").stdout)["goal"]["status"] == "paused"
    run(home, "resume", goal)
    run(home, "worker", "--until-idle")
    shown = json.loads(run(home, "show", goal, "--json").stdout)
    assert shown["goal"]["status"] == "failed"
    assert "missing.txt" in shown["steps"][0]["error"]
    assert "1 step(s)" in run(home, "retry", f"{goal}:a").stdout
    run(home, "cancel", goal)
    assert json.loads(run(home, "show", goal, "--json").stdout)["goal"]["status"] == "cancelled"
    assert "all work paused" in run(home, "pause", "--all").stdout

    # The global pause holds a ready step back until the resume.
    echo = tmp_path / "echo.toml"
    echo.write_text('title = "e"\n[[steps]]\nid = "a"\ntool = "echo"\nargs = { text = "x" }\n')
    held = run(home, "add", "--recipe", str(echo)).stdout.strip()
    run(home, "worker", "--until-idle")
    shown = json.loads(run(home, "show", held, "--json").stdout)
    assert shown["goal"]["status"] == "queued"
    assert [s["status"] for s in shown["steps"]] == ["ready"]
    assert shown["actions"] == []
    assert run(home, "resume", "--all").stdout.strip() == "work resumed"
    run(home, "worker", "--until-idle")
    shown = json.loads(run(home, "show", held, "--json").stdout)
    assert shown["goal"]["status"] == "completed"
    assert [s["status"] for s in shown["steps"]] == ["completed"]


def test_usage_errors_are_one_line(home: Path) -> None:
    for args, fragment in [
        (("show", "abc"), "'abc' is not a goal id"),
        (("show", "99"), "no goal 99"),
        (("approve", "x"), "'x' is not an approval id"),
        (("approve", "5"), "no approval 5"),
        (("approve",), "give one or more approval IDs, or --goal GOAL"),
        (("approve", "--goal", "8"), "no goal 8"),
        (("export", "99"), "no goal 99"),
        (("undo", "99"), "no goal 99"),
        (("add",), "give either goal TEXT or --recipe FILE"),
        (("add", "x", "--priority", "11"), "--priority: must be from 1 to 10, not 11"),
        (("add", "--recipe", "r.toml", "--schedule", "61 * * * *"), "--schedule"),
        (("retry", "7:nope"), "no goal 7"),
        (("locate", "nowhere"), "locate what?"),
        (("worker", "--max-parallel", "0"), "--max-parallel must be at least 1"),
    ]:
        out = run(home, *args, check=False)
        expected = 4 if "no goal" in fragment or "no approval" in fragment else (1, 2)
        assert out.returncode in (expected if isinstance(expected, tuple) else (expected,)), args
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("agent-tui: error:"), (args, out.stderr)
        assert fragment in lines[0], (args, lines[0])


def test_doctor_and_locate(home: Path) -> None:
    report = json.loads(run(home, "doctor", "--json", check=False).stdout)
    assert report["database"]["ok"] and report["config"]["ok"]
    assert report["model"]["model"] is None and "AGENT_TUI_MODEL" in report["model"]["why"]
    assert report["tools"]["shell"]["decision"] == "ask"
    assert run(home, "locate", "db").stdout.strip() == str(home / "data" / "agent-tui.db")
    text = run(home, "doctor", check=False).stdout
    assert "no model: set AGENT_TUI_MODEL" in text


def test_free_text_goal_waits_for_a_model(home: Path) -> None:
    out = run(home, "add", "summarise the logs")
    assert "no model: set AGENT_TUI_MODEL" in out.stderr
    idle = run(home, "worker", "--until-idle", check=False)
    assert idle.returncode == 3 and "no model" in idle.stderr
    goal = json.loads(run(home, "show", out.stdout.strip(), "--json").stdout)["goal"]
    assert goal["status"] == "waiting" and goal["wait_reason"] == "no model"
    assert "AGENT_TUI_MODEL" in goal["status_message"]


def test_always_allow_saves_a_rule_that_later_actions_use(tmp_path: Path, home: Path) -> None:
    first = tmp_path / "first.toml"
    first.write_text(
        'title = "one"\n[[steps]]\nid = "s"\ntool = "shell"\nargs = { command = "git --version" }\n'
    )
    run(home, "add", "--recipe", str(first))
    assert run(home, "worker", "--until-idle", check=False).returncode == 3
    [item] = json.loads(run(home, "approvals", "--json").stdout)
    refused = run(home, "approve", str(item["id"]), "--always", check=False)
    assert refused.returncode == 2 and "add --yes to confirm" in refused.stderr
    assert "rule: shell prefix" in refused.stdout  # the rule is shown before anything is saved
    assert json.loads(run(home, "rules", "--json").stdout) == [] or all(
        r["source"] == "config" for r in json.loads(run(home, "rules", "--json").stdout)
    )
    saved = run(home, "approve", str(item["id"]), "--always", "--yes")
    assert "approved" in saved.stdout
    rules = [r for r in json.loads(run(home, "rules", "--json").stdout) if r["source"] != "config"]
    assert len(rules) == 1 and rules[0]["tool"] == "shell" and rules[0]["decision"] == "allow"
    second = tmp_path / "second.toml"
    second.write_text(
        'title = "two"\n[[steps]]\nid = "s"\ntool = "shell"\n'
        'args = { command = "git --version --build-options" }\n'
    )
    goal = run(home, "add", "--recipe", str(second)).stdout.strip()
    run(home, "worker", "--until-idle")
    shown = json.loads(run(home, "show", goal, "--json").stdout)
    assert shown["goal"]["status"] == "completed"
    assert "rule" in shown["actions"][0]["decision_reason"]
    run(home, "rules", "rm", str(rules[0]["id"]))
    assert [
        r for r in json.loads(run(home, "rules", "--json").stdout) if r["source"] != "config"
    ] == []


def test_archive_hides_finished_goals(tmp_path: Path, home: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('title = "t"\n[[steps]]\nid = "a"\ntool = "echo"\nargs = { text = "x" }\n')
    goal = run(home, "add", "--recipe", str(recipe)).stdout.strip()
    early = run(home, "archive", goal, check=False)
    assert early.returncode == 1 and "only finished goals" in early.stderr
    run(home, "worker", "--until-idle")
    run(home, "archive", goal)
    assert json.loads(run(home, "ls", "--json").stdout) == []
    assert [g["id"] for g in json.loads(run(home, "ls", "--all", "--json").stdout)] == [int(goal)]
