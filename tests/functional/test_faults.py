"""Faults are states, not failures: a foreign write lock, a dead or signalled process, a worker capped
below the global limit. Every fault here is real: another process holds the lock, a worker is
SIGKILLed or sent SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_tui.core.spool import spool_dir
from tests.conftest import CLI, cli_env

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _cli(
    home: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _config(home: Path, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(text)


def _recipe(path: Path, steps: list[tuple[str, str]], title: str = "faults") -> Path:
    lines = [f'title = "{title}"', "max_parallel = 8"]
    for key, command in steps:
        lines += [
            "[[steps]]",
            f'id = "{key}"',
            'tool = "shell"',
            f"args = {{ command = {command!r} }}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _db(home: Path) -> Path:
    return home / "data" / "agent-tui.db"


@pytest.mark.sqlite_only
@pytest.mark.parametrize("seconds", [8, 20])
def test_a_foreign_write_lock_past_busy_timeout_is_a_wait(
    home: Path, tmp_path: Path, seconds: int
) -> None:
    _config(home, '[policy.tools]\nshell = "allow"\n')
    recipe = _recipe(
        tmp_path / "r.toml",
        [(f"s{i}", f"echo s{i} >> side-effects.log && sleep 0.2") for i in range(6)],
    )
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    worker = subprocess.Popen(
        [*CLI, "worker", "--until-idle"],
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # let it claim and start the first steps
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(_db(home)), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    try:
        _, err = worker.communicate(timeout=seconds + 90)
    finally:
        locker.kill()
        locker.wait()
    assert worker.returncode == 0, err
    conn = sqlite3.connect(_db(home))
    status = conn.execute("SELECT status FROM goals").fetchone()[0]
    workspace = Path(conn.execute("SELECT workspace FROM goals").fetchone()[0])
    running = conn.execute("SELECT count(*) FROM actions WHERE status = 'running'").fetchone()[0]
    conn.close()
    assert status == "completed", err
    assert running == 0
    assert sorted((workspace / "side-effects.log").read_text().split()) == [
        f"s{i}" for i in range(6)
    ]
    log = (home / "state" / "agent-tui.log").read_text()
    assert "waiting for the database" in log and "is free again" in log


def test_max_parallel_caps_one_process_and_the_global_limit_stays_global(
    home: Path, tmp_path: Path
) -> None:
    _config(home, '[policy.tools]\nshell = "allow"\n[executor]\nmax_parallel = 3\n')
    stamp = (
        "echo $(date +%s.%N) start >> times.log; sleep 0.6; echo $(date +%s.%N) end >> times.log"
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    lines = ['title = "wide"', "max_parallel = 8", f'workspace = "{shared}"']
    for i in range(9):
        lines += [
            "[[steps]]",
            f'id = "s{i}"',
            'tool = "shell"',
            f"args = {{ command = {stamp!r} }}",
        ]
    (tmp_path / "w.toml").write_text("\n".join(lines) + "\n")
    assert _cli(home, "add", "--recipe", str(tmp_path / "w.toml")).returncode == 0
    done = _cli(home, "worker", "--until-idle", "--max-parallel", "10")
    assert done.returncode == 0, done.stderr
    events = sorted(
        (float(t), kind)
        for t, kind in (line.split() for line in (shared / "times.log").read_text().splitlines())
    )
    now = peak = 0
    for _, kind in events:
        now += 1 if kind == "start" else -1
        peak = max(peak, now)
    assert peak == 3  # the global limit of 3, not the process's 10


def _running_sleep(marker: str) -> bool:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return any(f"sleep {marker}" in line for line in out.splitlines())


def test_a_dead_local_executor_is_recovered_at_once_not_at_lease_expiry(
    home: Path, tmp_path: Path
) -> None:
    marker = f"300.{os.getpid()}"
    _config(home, '[policy.tools]\nshell = "allow"\n[executor]\nlease_seconds = 3600\n')
    recipe = _recipe(tmp_path / "r.toml", [("long", f"sleep {marker}")])
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    first = subprocess.Popen(
        [*CLI, "worker"], env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while not _running_sleep(marker):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    doctor = json.loads(_cli(home, "doctor", "--json").stdout)
    assert doctor["database"]["executors"] == []  # the dead one is not counted
    # Waiting out the lease would take an hour: the timeout is a hang guard, not a timing check.
    second = _cli(home, "worker", "--until-idle", timeout=120)
    assert second.returncode == 3, second.stderr  # stopped: the unknown step waits for a person
    assert "interrupted in a side-effecting shell action" in second.stderr
    assert not _running_sleep(marker)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_a_worker_as_quit_does(
    home: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    _config(home, '[policy.tools]\nshell = "allow"\n')
    recipe = _recipe(
        tmp_path / "r.toml", [("s", "echo started > started; sleep 1; echo done > done")]
    )
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    worker = subprocess.Popen(
        [*CLI, "worker"],
        env=cli_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    conn = sqlite3.connect(_db(home))
    deadline = time.monotonic() + 30
    while conn.execute("SELECT count(*) FROM actions WHERE status = 'running'").fetchone()[0] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.send_signal(sig)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert conn.execute("SELECT status FROM steps").fetchone()[0] == "completed"
    assert "stopping" in err
    conn.close()


@pytest.mark.sqlite_only
def test_an_idle_worker_commits_rarely(home: Path) -> None:
    worker = subprocess.Popen(
        [*CLI, "worker"], env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while not _db(home).exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        conn = sqlite3.connect(_db(home))

        def registered() -> bool:
            try:
                return bool(conn.execute("SELECT count(*) FROM workers").fetchone()[0])
            except sqlite3.OperationalError:  # the schema is still being created
                return False

        while not registered():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)
        first = conn.execute("PRAGMA data_version").fetchone()[0]
        changes = 0
        for _ in range(120):  # 12 s
            time.sleep(0.1)
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != first:
                changes += 1
                first = version
        conn.close()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert changes <= 2  # a liveness beat every 10 s, nothing else


@pytest.mark.sqlite_only
@pytest.mark.parametrize("offset", [20480, 81920])
def test_a_database_damaged_mid_file_is_refused_and_never_written(
    home: Path, tmp_path: Path, offset: int
) -> None:
    import hashlib

    _config(home, '[policy.tools]\nshell = "allow"\n')
    recipe = _recipe(tmp_path / "r.toml", [(f"s{i}", f"echo {i}") for i in range(30)])
    for _ in range(3):
        assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    assert _cli(home, "worker", "--until-idle").returncode == 0
    conn = sqlite3.connect(_db(home))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    assert pages * 4096 > offset + 1024
    with open(_db(home), "r+b") as f:
        f.seek(offset)
        f.write(b"\xde\xad\xbe\xef" * 256)
    before = hashlib.sha256(_db(home).read_bytes()).hexdigest()
    for args in (("ls",), ("add", "--recipe", str(recipe)), ("worker", "--until-idle")):
        done = _cli(home, *args, timeout=30)
        assert done.returncode == 1, (args, done.stderr)
        assert "is damaged" in done.stderr and ".recover" in done.stderr
        assert done.stderr.count("\n") == 1
    assert hashlib.sha256(_db(home).read_bytes()).hexdigest() == before


@pytest.mark.sqlite_only
def test_a_write_ahead_log_deleted_under_a_running_worker_is_named_and_nothing_lost(
    home: Path,
) -> None:
    worker = subprocess.Popen(
        [*CLI, "worker"], env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wal = _db(home).with_name("agent-tui.db-wal")
    _wait(
        lambda: json.loads(_cli(home, "doctor", "--json").stdout)["database"]["executors"],
        "the worker to register",
    )
    assert _cli(home, "add", "keep this goal").returncode == 0  # in the log, not yet in the file
    wal.unlink()
    done = _cli(home, "ls", timeout=30)
    assert done.returncode == 1
    assert "write-ahead log" in done.stderr and "is missing" in done.stderr, done.stderr
    assert f"pid {worker.pid}" in done.stderr and "damaged" not in done.stderr
    worker.send_signal(signal.SIGINT)  # stopped cleanly, it writes its copy of the log back
    worker.wait(timeout=30)
    listed = _cli(home, "ls")
    assert listed.returncode == 0, listed.stderr
    assert "keep this goal" in listed.stdout


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MiB tmpfs, mounted for real (root only; CI runs as root): room for the database and
    its write-ahead log while a worker starts, and little enough to fill."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.sqlite_only
def test_a_full_disk_fails_the_step_plainly_and_never_hangs(
    small_disk: Path, tmp_path: Path
) -> None:
    home = small_disk / "home"
    db = tmp_path / "db" / "agent-tui.db"
    _config(home, '[policy.tools]\nshell = "allow"\n[checkpoints]\nenabled = false\n')
    recipe = _recipe(tmp_path / "r.toml", [("big", "yes 0123456789abcdef | head -c 3000000")])
    env = {"AGENT_TUI_DB": str(db)}
    assert _cli(home, "add", "--recipe", str(recipe), **env).returncode == 0
    done = _cli(home, "worker", "--until-idle", timeout=120, **env)  # a hang guard
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") < 30
    conn = sqlite3.connect(db)
    step = conn.execute("SELECT status, error FROM steps").fetchone()
    conn.close()
    assert step[0] == "failed" and step[1].startswith("disk full: "), step


@pytest.mark.sqlite_only
def test_split_brain_keeps_a_late_result_and_journals_the_fence(home: Path, tmp_path: Path) -> None:
    _config(
        home,
        '[policy.tools]\nshell = "allow"\n[executor]\nlease_seconds = 2\nheartbeat_seconds = 0.5\n',
    )
    marker = f"2.5{os.getpid()}"
    recipe = _recipe(tmp_path / "r.toml", [("s", f"sleep {marker}; echo done > done")])
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    first = subprocess.Popen(
        [*CLI, "worker"], env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    conn = sqlite3.connect(_db(home))
    try:
        deadline = time.monotonic() + 30
        while not _running_sleep(marker):  # the command itself runs (not only its action row)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # past its 2 s lease, while its command runs on
        time.sleep(2.5)
        second = _cli(home, "worker", "--until-idle", timeout=60)
        assert "interrupted in a side-effecting shell action" in second.stderr
        time.sleep(1.0)  # the command has finished meanwhile
        first.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 20
        kinds: list[str] = []
        while "action.late_result" not in kinds:
            assert time.monotonic() < deadline, kinds
            time.sleep(0.1)
            kinds = [r[0] for r in conn.execute("SELECT kind FROM events")]
        late = conn.execute(
            "SELECT message FROM events WHERE kind = 'action.late_result'"
        ).fetchone()[0]
        assert "finished after its lease was lost: succeeded (exit 0)" in late
        detail = conn.execute("SELECT detail FROM approvals WHERE status = 'pending'").fetchone()[0]
        assert "finished after its lease was lost" in detail
        status = conn.execute("SELECT status FROM actions").fetchone()[0]
        assert status == "unknown"  # the person decides; the late result does not decide for them
    finally:
        first.send_signal(signal.SIGCONT)
        first.send_signal(signal.SIGTERM)
        first.wait(30)
        conn.close()


def _wait(predicate, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.sqlite_only
def test_a_result_that_could_not_be_written_is_recorded_once_it_can_be(
    small_disk: Path, tmp_path: Path
) -> None:
    """The command ends while the database's disk is full, so its end cannot be recorded. Its
    result was spooled first (the spool is in the state directory, on another disk), and once
    space returns it is recorded: the step completes; nothing runs twice and nobody is asked."""
    home = tmp_path / "home"
    db = small_disk / "agent-tui.db"
    _config(home, '[policy.tools]\nshell = "allow"\n[checkpoints]\nenabled = false\n')
    command = "while [ ! -f go ]; do sleep 0.05; done; echo ran >> count.log"
    recipe = _recipe(tmp_path / "r.toml", [("once", command)])
    env = {"AGENT_TUI_DB": str(db)}
    assert _cli(home, "add", "--recipe", str(recipe), **env).returncode == 0
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    workspace = Path(conn.execute("SELECT workspace FROM goals").fetchone()[0])
    worker = subprocess.Popen(
        [*CLI, "worker"],
        env=cli_env(home, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    filler = small_disk / "filler"
    spool = home / "state" / "spool"
    try:

        def running() -> bool:
            return bool(
                conn.execute("SELECT count(*) FROM actions WHERE status = 'running'").fetchone()[0]
            )

        try:
            _wait(running, "the command to start")
        except AssertionError:
            worker.kill()
            raise AssertionError(worker.communicate()[1][-3000:]) from None
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True)
        (workspace / "go").write_text("")
        _wait(lambda: (workspace / "count.log").exists(), "the command to run")
        _wait(lambda: bool(list(spool.glob("*/*.json"))), "the result to be spooled")
        time.sleep(1.0)  # its transaction fails now, again and again
        assert running(), "recorded although the disk was full?"
        filler.unlink()
        _wait(lambda: not running(), "the spooled result to be recorded")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    step = conn.execute("SELECT status FROM steps").fetchone()
    assert step[0] == "completed", err
    assert conn.execute("SELECT status FROM goals").fetchone()[0] == "completed"
    assert conn.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM actions").fetchone()[0] == 1
    assert (workspace / "count.log").read_text() == "ran\n"
    recovered = conn.execute(
        "SELECT message FROM events WHERE kind = 'action.succeeded'"
    ).fetchone()[0]
    assert "recorded from the spool" in recovered
    assert not list(spool.glob("*/*.json"))


@pytest.mark.sqlite_only
def test_a_spooled_result_answers_the_question_about_its_interrupted_action(
    home: Path, tmp_path: Path
) -> None:
    """A worker died mid-command and its action was made ``unknown`` (a person is asked) before
    its spooled result was seen: the result answers the question, and the step completes."""
    _config(home, '[policy.tools]\nshell = "allow"\n[checkpoints]\nenabled = false\n')
    recipe = _recipe(tmp_path / "r.toml", [("once", "sleep 60")])
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    conn = sqlite3.connect(_db(home), isolation_level=None, timeout=30)
    worker = subprocess.Popen(
        [*CLI, "worker"], env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait(
            lambda: conn.execute(
                "SELECT count(*) FROM actions WHERE status = 'running'"
            ).fetchone()[0],
            "the command to start",
        )
    finally:
        worker.kill()
        worker.wait()
    blocked = _cli(home, "worker", "--until-idle")
    assert blocked.returncode == 3, blocked.stderr  # waiting for a person: run again, done, skip?
    action = conn.execute("SELECT id, step_id, owner, status FROM actions").fetchone()
    assert action[3] == "unknown"
    entry = {
        "version": 1,
        "action_id": action[0],
        "step_id": action[1],
        "owner": action[2],
        "pid": worker.pid,
        "started_at": 0.0,
        "ok": True,
        "output": "the real output\n",
        "data": {"exit_code": 0},
        "error": None,
        "transient": False,
        "cancelled": False,
        "written_at": time.time(),
    }
    target = spool_dir(_db(home)) / f"{action[0]}.json"
    assert target.is_relative_to(home / "state")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(entry))
    done = _cli(home, "worker", "--until-idle")
    assert done.returncode == 0, done.stderr
    step = conn.execute("SELECT status, result FROM steps").fetchone()
    assert step[0] == "completed"
    assert json.loads(step[1])["output"] == "the real output\n"
    approval = conn.execute("SELECT status, choice, reason FROM approvals").fetchone()
    assert approval[:2] == ("approved", "recovered")
    assert "succeeded (exit 0)" in approval[2]
    assert conn.execute("SELECT status FROM actions").fetchone()[0] == "succeeded"
    assert not target.exists()


@pytest.mark.sqlite_only
def test_a_command_that_outlived_its_executor_is_waited_for_never_run_twice_at_once(
    home: Path, tmp_path: Path
) -> None:
    # Without the sandbox (whose PID namespace ends a command with its runner) a command can
    # outlive its executor: SIGKILL the worker, and the command goes on under PID 1. It runs
    # until the test lets it end (the file go), so the timing of a loaded machine decides nothing.
    _config(home, '[policy.tools]\nshell = "allow"\n[sandbox]\nmode = "off"\n')
    command = "while [ ! -f go ]; do sleep 0.05; done; echo ran >> effects"
    recipe = _recipe(tmp_path / "r.toml", [("long", command)])
    assert _cli(home, "add", "--recipe", str(recipe)).returncode == 0
    first = subprocess.Popen(
        [*CLI, "worker"], env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    conn = sqlite3.connect(_db(home))
    workspace = Path(conn.execute("SELECT workspace FROM goals").fetchone()[0])

    def recorded() -> int | None:
        row = conn.execute("SELECT process FROM actions").fetchone()
        return json.loads(row[0])["pid"] if row and row[0] else None

    _wait(lambda: recorded() is not None, "the command to start and its process to be recorded")
    pid = recorded()
    assert pid is not None
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert _alive(pid)  # it outlived its executor

    second = _cli(home, "worker", "--until-idle", timeout=60)
    assert second.returncode == 3, second.stderr  # the question waits for a person
    approval_id, title, detail = conn.execute(
        "SELECT id, title, detail FROM approvals WHERE kind = 'unknown'"
    ).fetchone()
    assert f"still running (pid {pid})" in title
    assert "Wait for it" in detail
    listed = _cli(home, "approvals")
    assert "--choice wait|mark_done|skip" in listed.stdout

    again = _cli(home, "approve", str(approval_id), "--choice", "run_again")
    assert again.returncode != 0
    assert f"still running (pid {pid})" in again.stderr + again.stdout
    waited = _cli(home, "approve", str(approval_id), "--choice", "wait")
    assert waited.returncode == 0, waited.stderr
    status = conn.execute("SELECT status FROM approvals WHERE id = ?", (approval_id,)).fetchone()
    assert status[0] == "pending"  # waiting decides nothing

    (workspace / "go").write_text("")
    _wait(lambda: not _alive(pid), "the orphaned command to end", timeout=30)
    assert (workspace / "effects").read_text() == "ran\n"
    third = _cli(home, "worker", "--until-idle", timeout=60)
    assert third.returncode == 3, third.stderr
    title, detail = conn.execute(
        "SELECT title, detail FROM approvals WHERE id = ?", (approval_id,)
    ).fetchone()
    assert "since ended" in title and f"(pid {pid}) has ended" in detail
    kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert "approval.waiting" in kinds and "action.process_ended" in kinds

    # Ended: run again is taken now, and runs it once more.
    assert _cli(home, "approve", str(approval_id), "--choice", "run_again").returncode == 0
    assert _cli(home, "worker", "--until-idle", timeout=60).returncode == 0
    assert (workspace / "effects").read_text() == "ran\nran\n"
    conn.close()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
