"""Several real ``agent-tui worker`` processes on one database, and a worker killed mid-action."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env
from tests.helpers import the_store

pytestmark = pytest.mark.slow


UNSANDBOXED = {"AGENT_TUI_SANDBOX__MODE": "off"}
"""These tests follow commands by their process ids (``echo $$``), which mean nothing outside the
sandbox's PID namespace; what the sandbox does to processes is tested in test_sandbox.py."""


def _recipe(path: Path, title: str, n: int) -> Path:
    lines = [f'title = "{title}"', "max_parallel = 8"]
    for i in range(n):
        lines += [
            "[[steps]]",
            f'id = "s{i}"',
            'tool = "write_file"',
            f'args = {{ path = "runs.log", content = "s{i}\\n", append = true }}',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=cli_env(home, **UNSANDBOXED, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(420)  # the workers get 180 s each below: on a loaded 2-core machine, 1,000
# real steps (each a file write and its checkpoint) can outlast the suite's default 120 s
@pytest.mark.parametrize("workers", [2, 3])
def test_every_step_runs_exactly_once(tmp_path: Path, home: Path, workers: int) -> None:
    goals = []
    for g in range(4):
        out = _cli(
            home,
            "add",
            "--json",
            "--recipe",
            str(_recipe(tmp_path / f"r{g}.toml", f"batch {g}", 250)),
        )
        assert out.returncode == 0, out.stderr
        goals.append(json.loads(out.stdout)["id"])
    env = cli_env(
        home, AGENT_TUI_EXECUTOR__MAX_PARALLEL="12", AGENT_TUI_EXECUTOR__PER_GOAL_PARALLEL="8"
    )
    # 1,000 steps: under `make check` the workers run unmeasured, since measuring them takes
    # several times as long and every path they take is measured by the smaller tests.
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    logs = [tmp_path / f"worker{i}.log" for i in range(workers)]
    procs = [
        subprocess.Popen(
            [*CLI, "worker", "--until-idle"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for log in logs
    ]
    for proc, log in zip(procs, logs, strict=True):
        proc.wait(timeout=180)
        assert proc.returncode == 0, log.read_text()[-2000:]
    db = the_store(home)  # the SQLite file, or with --store=postgresql the server's database
    try:
        done = db.one("SELECT count(*) AS n FROM steps WHERE status = 'completed'")
        assert done == {"n": 1000}
        per_step = db.all("SELECT step_id, count(*) AS n FROM actions GROUP BY step_id")
        assert len(per_step) == 1000 and {r["n"] for r in per_step} == {1}
        owners = db.one("SELECT count(DISTINCT owner) AS n FROM actions")
        assert owners and owners["n"] >= 2, "the workers did not share the work"
        for goal in goals:
            row = db.one("SELECT workspace FROM goals WHERE id = ?", (goal,))
            assert row is not None
            lines = (Path(row["workspace"]) / "runs.log").read_text().split()
            assert sorted(lines) == sorted(f"s{i}" for i in range(250))
        if db.dialect == "sqlite":
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_sigkill_mid_action_is_recovered(tmp_path: Path, home: Path) -> None:
    pidfile = tmp_path / "child.pid"
    marker = tmp_path / "second-run"
    recipe = tmp_path / "crash.toml"
    recipe.write_text(f"""
title = "crash"
[[steps]]
id = "before"
tool = "write_file"
args = {{ path = "before.txt", content = "once\\n", append = true }}

[[steps]]
id = "long"
tool = "shell"
depends_on = ["before"]
args = {{ command = "if [ -f {pidfile} ]; then touch {marker}; else echo $$ > {pidfile}; sleep 60; fi" }}

[[steps]]
id = "after"
tool = "echo"
depends_on = ["long"]
args = {{ text = "after" }}
""")
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    fast = {
        "AGENT_TUI_EXECUTOR__LEASE_SECONDS": "2",
        "AGENT_TUI_EXECUTOR__HEARTBEAT_SECONDS": "0.5",
        "AGENT_TUI_POLICY__TOOLS": '{ shell = "allow" }',
    }
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [*CLI, "worker"],
        env=cli_env(home, **UNSANDBOXED, **fast),
        stdout=subprocess.DEVNULL,
        stderr=worker_log.open("w"),
    )
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "the shell step never started"
        assert worker.poll() is None, worker_log.read_text()
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    child = int(pidfile.read_text())
    try:  # the orphaned command is not ours to reap; make sure it does not outlive the test
        import os

        os.killpg(child, signal.SIGKILL)
    except ProcessLookupError:
        pass

    time.sleep(2.2)  # let the dead worker's 2 s lease expire
    second = _cli(home, "worker", "--until-idle", **fast)
    assert second.returncode == 3, second.stderr  # idle, but a decision is pending
    assert "interrupted in a side-effecting shell action" in second.stderr
    shown = json.loads(_cli(home, "show", "1", "--json").stdout)
    by_key = {s["key"]: s for s in shown["steps"]}
    assert by_key["before"]["status"] == "completed"
    assert by_key["long"]["status"] == "unknown"
    assert by_key["after"]["status"] == "pending"
    approvals = json.loads(_cli(home, "approvals", "--json").stdout)
    [item] = approvals
    assert item["kind"] == "unknown" and str(pidfile) in item["detail"]

    assert _cli(home, "approve", str(item["id"]), "--choice", "run_again").returncode == 0
    third = _cli(home, "worker", "--until-idle", **fast)
    assert third.returncode == 0, third.stderr
    shown = json.loads(_cli(home, "show", "1", "--json").stdout)
    assert shown["goal"]["status"] == "completed"
    assert marker.exists()
    before_actions = [a for a in shown["actions"] if a["step"] == "before"]
    assert len(before_actions) == 1  # completed actions are never replayed
    workspace = Path(shown["goal"]["workspace"])
    assert (workspace / "before.txt").read_text() == "once\n"
    statuses = [a["status"] for a in shown["actions"] if a["step"] == "long"]
    assert statuses == ["failed", "succeeded"]
    db = the_store(home)
    try:
        if db.dialect == "sqlite":  # the file survived the SIGKILL whole
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def _start_worker(home: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, "worker"],
        env=cli_env(home, **UNSANDBOXED, **env),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def _wait_for_file(path: Path, worker: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared:\n{log.read_text()}"
        assert worker.poll() is None, log.read_text()
        time.sleep(0.05)
    return path.read_text().strip()


def _wait_for_log(text: str, worker: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the worker's log until it says ``text`` (a signal was handled, say)."""
    deadline = time.monotonic() + 30
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{log.read_text()}"
        assert worker.poll() is None, log.read_text()
        time.sleep(0.05)


ALLOW_SHELL = {"AGENT_TUI_POLICY__TOOLS": '{ shell = "allow" }'}


def test_cancel_from_another_process_kills_the_command(tmp_path: Path, home: Path) -> None:
    pidfile = tmp_path / "pid"
    recipe = tmp_path / "long.toml"
    recipe.write_text(
        f'title = "long"\n[[steps]]\nid = "s"\ntool = "shell"\n'
        f'args = {{ command = "echo $$ > {pidfile}; sleep 60" }}\n'
    )
    goal = _cli(home, "add", "--recipe", str(recipe)).stdout.strip()
    log = tmp_path / "worker.log"
    worker = _start_worker(home, log, **ALLOW_SHELL)
    try:
        pid = int(_wait_for_file(pidfile, worker, log))
        assert _cli(home, "cancel", goal).returncode == 0
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            assert time.monotonic() < deadline, "the cancelled command is still running"
            time.sleep(0.05)
        shown = json.loads(_cli(home, "show", goal, "--json").stdout)
        assert shown["goal"]["status"] == "cancelled"
        deadline = time.monotonic() + 10
        while json.loads(_cli(home, "show", goal, "--json").stdout)["actions"][0]["status"] != (
            "failed"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(20)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"


def test_first_signal_lets_running_steps_finish(tmp_path: Path, home: Path) -> None:
    started, finished = tmp_path / "started", tmp_path / "finished"
    recipe = tmp_path / "graceful.toml"
    recipe.write_text(
        f'title = "graceful"\n[[steps]]\nid = "s"\ntool = "shell"\n'
        f'args = {{ command = "echo 1 > {started}; sleep 1; echo 1 > {finished}" }}\n'
    )
    goal = _cli(home, "add", "--recipe", str(recipe)).stdout.strip()
    log = tmp_path / "worker.log"
    worker = _start_worker(home, log, **ALLOW_SHELL)
    _wait_for_file(started, worker, log)
    worker.send_signal(signal.SIGINT)
    assert worker.wait(20) == 130
    assert finished.exists()
    assert "running step(s) finish first" in log.read_text()
    shown = json.loads(_cli(home, "show", goal, "--json").stdout)
    assert shown["goal"]["status"] == "completed"


def test_second_signal_interrupts_and_asks(tmp_path: Path, home: Path) -> None:
    started = tmp_path / "started"
    recipe = tmp_path / "interrupt.toml"
    recipe.write_text(
        f'title = "interrupt"\n[[steps]]\nid = "s"\ntool = "shell"\n'
        f'args = {{ command = "echo 1 > {started}; sleep 60" }}\n'
    )
    goal = _cli(home, "add", "--recipe", str(recipe)).stdout.strip()
    log = tmp_path / "worker.log"
    worker = _start_worker(home, log, **ALLOW_SHELL)
    _wait_for_file(started, worker, log)
    worker.send_signal(signal.SIGINT)
    _wait_for_log("running step(s) finish first", worker, log)  # the first one was handled
    worker.send_signal(signal.SIGINT)
    assert worker.wait(20) == 130
    shown = json.loads(_cli(home, "show", goal, "--json").stdout)
    assert shown["steps"][0]["status"] == "unknown"
    [approval] = json.loads(_cli(home, "approvals", "--json").stdout)
    assert approval["kind"] == "unknown"
