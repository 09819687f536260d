"""Faults: steps lost, side effects doubled and seconds to recover under real faults.

Real ``agent-tui worker`` processes on a throwaway home, the fault injected for real:

- ``sigkill``: the worker SIGKILLed at a random moment and restarted at once, 50 times;
- ``sigstop``: a worker SIGSTOPped mid-command past its lease, a second one started, the first
  resumed; ``sigstop_outlives``: the same with a command still running when the first resumes;
- ``lock``, ``lock_two_workers``: another process holds the write lock for 10 s;
- ``disk``, ``disk_two_workers``: the database's disk (a small tmpfs) filled with ``dd`` while
  commands run, then freed (skipped, with the reason, where a tmpfs cannot be mounted).

Every step is a shell command that appends its own id to ``effects.log``: a lost step (never
completed, or completed with no line) and a doubled side effect (a line written twice) are
counted. The lease is shortened to 3 s through ``[executor] lease_seconds``.

When a side-effecting command is interrupted the product asks a person (run again, mark done,
skip); the benchmark answers as a careful person would, from the evidence: ``mark_done`` when the
step's line is in the file, ``run_again`` when it is not, and only once the process that ran the
command is dead or has resumed. The questions are counted as ``asked``: after SIGKILL and SIGSTOP
they are the design; under a lock or a full disk nothing was interrupted, so none may be asked.

Targets: 0 lost, 0 doubled, recovery within the lease + 2 s.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import ROOT, parser, report

LEASE_S = 3.0
"""The lease the benchmark configures (``[executor] lease_seconds``; the default is 15 s)."""
HEARTBEAT_S = 0.5
POLL_S = 0.02
CLI = [sys.executable, "-m", "agent_tui.cli"]
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN IMMEDIATE")
print(time.time(), flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
print(time.time(), flush=True)
"""


class Home:
    """A throwaway AGENT_TUI_HOME with a shared workspace, the CLI, and a reading connection."""

    def __init__(self, root: Path, name: str, db: Path | None = None) -> None:
        self.dir = root / name
        self.workspace = self.dir / "ws"
        self.workspace.mkdir(parents=True)
        (self.dir / "config").mkdir()
        (self.dir / "config" / "config.toml").write_text(
            '[policy.tools]\nshell = "allow"\n[checkpoints]\nenabled = false\n'
            f"[executor]\nlease_seconds = {LEASE_S}\nheartbeat_seconds = {HEARTBEAT_S}\n"
        )
        self.db = db or self.dir / "data" / "agent-tui.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_TUI_")}
        self.env |= {"AGENT_TUI_HOME": str(self.dir), "PYTHONPATH": str(ROOT)}
        if db is not None:
            self.env["AGENT_TUI_DB"] = str(db)
        self.effects = self.workspace / "effects.log"
        self.keys: list[str] = []
        self.goals = 0
        self.workers: list[subprocess.Popen[bytes]] = []
        self._conn: sqlite3.Connection | None = None

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a CLI command in the background; its stderr goes to a numbered log file."""
        log = open(self.dir / f"proc-{len(self.workers)}-{args[0]}.err", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [*CLI, *args], env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()
        self.workers.append(proc)
        return proc

    def recipe(self, steps: int, command: str, max_parallel: int, first: str | None) -> Path:
        """A goal of ``steps`` shell steps; ``command`` holds ``{key}``, the step's unique id;
        ``first``, when given, is the first step's command instead."""
        self.goals += 1
        lines = [
            f'title = "faults {self.goals}"',
            f"max_parallel = {max_parallel}",
            f'workspace = "{self.workspace}"',
        ]
        for i in range(steps):
            key = f"g{self.goals}s{i}"
            self.keys.append(key)
            lines += [
                "[[steps]]",
                f'id = "{key}"',
                'tool = "shell"',
                f"args = {{ command = {(first if first and not i else command).format(key=key)!r} }}",
            ]
        path = self.dir / f"recipe-{self.goals}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def add(
        self, steps: int, command: str, max_parallel: int = 4, first: str | None = None
    ) -> None:
        done = self.cli("add", "--recipe", str(self.recipe(steps, command, max_parallel, first)))
        assert done.returncode == 0, done.stderr

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self.db, isolation_level=None, timeout=60)
        return self._conn

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql, params).fetchone()[0]

    def progress(self) -> int:
        """Commands whose success is recorded (a person's ``mark_done`` does not count)."""
        return int(self.scalar("SELECT count(*) FROM actions WHERE status = 'succeeded'"))

    def running(self) -> int:
        return int(self.scalar("SELECT count(*) FROM actions WHERE status = 'running'"))

    def unfinished(self) -> int:
        return int(self.scalar("SELECT count(*) FROM steps WHERE status != 'completed'"))

    def lines(self) -> Counter[str]:
        text = self.effects.read_text() if self.effects.exists() else ""
        return Counter(text.split())

    def pending_unknowns(self) -> list[tuple[int, str]]:
        """Pending questions about interrupted commands, with their step's id."""
        rows = self.conn.execute(
            "SELECT a.id, s.key FROM approvals a JOIN steps s ON s.id = a.step_id"
            " WHERE a.status = 'pending' AND a.kind = 'unknown' ORDER BY a.id"
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
        if self._conn is not None:
            self._conn.close()


class Person:
    """Answers the questions about interrupted commands from the evidence, in the background
    (one ``approve`` process at a time), so the benchmark's clock keeps running meanwhile."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.asked: set[int] = set()
        self.choices: Counter[str] = Counter()
        self.queue: list[list[str]] = []
        self.proc: subprocess.Popen[str] | None = None

    def busy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            _, err = self.proc.communicate()
            assert self.proc.returncode == 0, err
            self.proc = None
        return self.proc is not None or bool(self.queue)

    def decide(self) -> None:
        """Start answering the pending questions, or the next batch; never waits."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.busy()
        if not self.queue:
            pending = [(a, k) for a, k in self.home.pending_unknowns() if a not in self.asked]
            seen = self.home.lines() if pending else Counter()
            by_choice: dict[str, list[str]] = {}
            for approval, key in pending:
                choice = "mark_done" if seen[key] else "run_again"
                by_choice.setdefault(choice, []).append(str(approval))
                self.asked.add(approval)
                self.choices[choice] += 1
            self.queue = [[*ids, "--choice", c] for c, ids in by_choice.items()]
        if self.queue:
            self.proc = subprocess.Popen(
                [*CLI, "approve", *self.queue.pop(0)],
                env=self.home.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

    def settle(self) -> None:
        """Answer everything pending now, and wait for the answers to be recorded."""
        self.decide()
        while self.busy():
            self.decide()
            time.sleep(0.05)

    def summary(self) -> dict[str, Any]:
        return {"asked": len(self.asked), **{f"chose_{k}": v for k, v in self.choices.items()}}


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> float:
    """Poll until ``predicate`` holds; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(POLL_S)
    return time.monotonic()


def first_success_after(home: Home, wall: float, timeout: float = 60) -> float:
    """Seconds from the wall-clock moment ``wall`` to the first success recorded after it."""
    sql = "SELECT min(ts) FROM events WHERE kind = 'action.succeeded' AND ts > ?"
    wait_for(lambda: home.scalar(sql, (wall,)) is not None, "a success to be recorded", timeout)
    return float(home.scalar(sql, (wall,))) - wall


def successes_between(home: Home, start: float, end: float) -> int:
    sql = "SELECT count(*) FROM events WHERE kind = 'action.succeeded' AND ts > ? AND ts < ?"
    return int(home.scalar(sql, (start, end)))


def tally(home: Home) -> dict[str, Any]:
    """Lost: a step not completed, or completed with no line; doubled: a line written twice."""
    seen = home.lines()
    rows = home.conn.execute("SELECT key, status FROM steps").fetchall()
    status = {str(k): str(s) for k, s in rows}
    not_completed = [k for k in home.keys if status.get(k) != "completed"]
    no_effect = [k for k in home.keys if status.get(k) == "completed" and not seen[k]]
    doubled = sorted(k for k, n in seen.items() if n > 1)
    out: dict[str, Any] = {
        "steps": len(home.keys),
        "steps_lost": len(not_completed) + len(no_effect),
        "side_effects_doubled": len(doubled),
    }
    if not_completed:
        out["not_completed"] = {k: status.get(k) for k in not_completed[:10]}
    if no_effect:
        out["completed_without_effect"] = no_effect[:10]
    if doubled:
        out["doubled_keys"] = doubled[:10]
    spooled = home.scalar(
        "SELECT count(*) FROM events WHERE message LIKE '%recorded from the spool%'"
    )
    out["recorded_from_spool"] = int(spooled)
    out["integrity"] = home.scalar("PRAGMA quick_check")
    log = home.dir / "state" / "agent-tui.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    out["log_lines"] = text.count("\n")
    out["log_errors"] = text.count(" ERROR ")
    out["log_tracebacks"] = text.count("Traceback (most recent call last)")
    return out


def verdict(result: dict[str, Any], recover: float | None, *, unasked: bool) -> dict[str, Any]:
    """Whether the targets are met. ``unasked``: nothing was interrupted, so nobody may be asked
    and every worker exits 0 (a busy or full database is a wait, never a question)."""
    result["recover_s"] = None if recover is None else round(recover, 2)
    result["target_recover_s"] = LEASE_S + 2
    met = (
        result["steps_lost"] == 0
        and result["side_effects_doubled"] == 0
        and recover is not None
        and recover <= LEASE_S + 2
    )
    if unasked:
        result["target_asked"] = 0
        met = met and result["asked"] == 0 and not any(result["worker_exits"])
    result["meets_target"] = met
    return result


def finish(home: Home, person: Person, timeout: float = 180) -> int:
    """Run ``worker --until-idle`` until every goal is done, answering questions meanwhile."""
    deadline = time.monotonic() + timeout
    code = -1
    while home.unfinished() and time.monotonic() < deadline:
        worker = home.spawn("worker", "--until-idle")
        while worker.poll() is None and time.monotonic() < deadline:
            person.decide()
            time.sleep(0.1)
        if worker.poll() is None:
            worker.kill()
        code = worker.wait()
        person.settle()
    return code


def await_progress(home: Home, person: Person, count: int, timeout: float = 60) -> float:
    """Poll until more than ``count`` successes are recorded, the person answering meanwhile;
    the monotonic time it happened."""
    deadline = time.monotonic() + timeout
    while home.progress() <= count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no progress within {timeout:g} s")
        person.decide()
        time.sleep(POLL_S)
    return time.monotonic()


def sigkill(root: Path, kills: int, rng: random.Random) -> dict[str, Any]:
    """Kill the worker at a random moment after it progresses, restart it at once, ``kills``
    times; then let one worker finish. Recovery: from the kill to the next recorded success."""
    home = Home(root, "sigkill")
    command = "sleep 0.05; echo {key} >> effects.log; sleep 0.05"
    person = Person(home)
    try:
        for _ in range(3):
            home.add(100, command)
        recovered: list[float] = []
        worker = home.spawn("worker")
        for _ in range(kills):
            if home.unfinished() < 200:
                home.add(100, command)
            await_progress(home, person, home.progress())
            moment = time.monotonic() + rng.uniform(0.0, 1.2)
            while time.monotonic() < moment:
                person.decide()
                time.sleep(POLL_S)
            worker.kill()
            killed_at = time.monotonic()
            worker.wait()
            at_kill = home.progress()
            worker = home.spawn("worker")
            recovered.append(await_progress(home, person, at_kill) - killed_at)
            person.decide()
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        person.settle()
        code = finish(home, person)
        result = {"kills": kills, **tally(home), **person.summary(), "final_exit": code}
        result["recover_p50_s"] = round(statistics.median(recovered), 2)
        return verdict(result, max(recovered), unasked=False)
    finally:
        home.close()


def sigstop(root: Path, outlives: bool) -> dict[str, Any]:
    """Stop the worker mid-command for the lease + 1.5 s, start a second one at once, resume the
    first. One goal, one step at a time, so the second worker waits for the stopped one's lease.

    ``outlives``: the stopped command (9 s) outlives the stop, so it still runs when the first
    worker resumes; the first must end it, or it completes beside the copy run again. Otherwise
    it ends while its worker is stopped (a late result). Recovery: from the stop to the next
    success recorded."""
    home = Home(root, "sigstop-outlives" if outlives else "sigstop")
    person = Person(home)
    command = "sleep 0.6; echo {key} >> effects.log"
    first_command = "sleep 9; echo {key} >> effects.log" if outlives else None
    try:
        home.add(8, command, max_parallel=1, first=first_command)
        first = home.spawn("worker")
        done = 0 if outlives else 2
        wait_for(lambda: home.progress() >= done and home.running() > 0, "a command to run")
        time.sleep(0.3)
        first.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        at_stop = home.progress()
        second = home.spawn("worker")
        recovered_at = wait_for(lambda: home.progress() > at_stop, "the second worker", 60)
        time.sleep(max(0.0, stopped_at + LEASE_S + 1.5 - time.monotonic()))
        first.send_signal(signal.SIGCONT)
        time.sleep(2.0)  # the first worker notices its lost lease, and its command has ended
        code = finish(home, person)
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        fenced = home.scalar("SELECT count(*) FROM events WHERE kind = 'action.fenced'")
        late = home.scalar("SELECT count(*) FROM events WHERE kind = 'action.late_result'")
        result = {
            "stopped_s": LEASE_S + 1.5,
            "command_outlives_stop": outlives,
            **tally(home),
            **person.summary(),
            "fenced_events": int(fenced),
            "late_result_events": int(late),
            "final_exit": code,
            "recover_after_lease_s": round(recovered_at - stopped_at - LEASE_S, 2),
        }
        return verdict(result, recovered_at - stopped_at, unasked=False)
    finally:
        home.close()


def foreign_lock(root: Path, seconds: float, workers: int) -> dict[str, Any]:
    """Another process holds ``BEGIN IMMEDIATE`` (in WAL mode ``EXCLUSIVE`` is the same) for
    ``seconds`` while ``workers`` workers run commands. No process can renew a lease meanwhile,
    so with two, each may find the other's leases expired when the lock goes. Recovery: from the
    release to the next success recorded."""
    home = Home(root, f"lock-{workers}")
    person = Person(home)
    try:
        for _ in range(3):
            home.add(10, "echo {key} >> effects.log; sleep 0.2", max_parallel=2)
        procs = [home.spawn("worker", "--until-idle") for _ in range(workers)]
        wait_for(lambda: home.progress() >= 2 and home.running() > 0, "commands to run")
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(home.db), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdout is not None
        locked = float(locker.stdout.readline())
        released = float(locker.stdout.readline())
        locker.wait(30)
        recover = first_success_after(home, released)
        codes = [proc.wait(180) for proc in procs]
        if home.unfinished():
            finish(home, person)
        fenced = home.scalar("SELECT count(*) FROM events WHERE kind = 'action.fenced'")
        result = {
            "lock_s": seconds,
            "workers": workers,
            **tally(home),
            **person.summary(),
            "fenced_events": int(fenced),
            "successes_recorded_under_lock": successes_between(home, locked, released),
            "worker_exits": codes,
            "lock_held_s": round(released - locked, 2),
        }
        return verdict(result, recover, unasked=True)
    finally:
        home.close()


@contextmanager
def tmpfs(root: Path, size: str) -> Iterator[Path | str]:
    """A freshly mounted tmpfs, or the reason it cannot be mounted."""
    mount = Path(tempfile.mkdtemp(prefix="small-", dir=root))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        yield f"cannot mount a tmpfs: {(done.stderr or done.stdout).strip()}"
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def full_disk(root: Path, seconds: float, workers: int) -> dict[str, Any]:
    """The database's disk (a 16 MiB tmpfs) filled with ``dd`` while ``workers`` workers run
    commands, freed after ``seconds``. Recovery: from the freeing to the next success recorded."""
    with tmpfs(root, "16m") as mount:
        if isinstance(mount, str):
            return {"skipped": True, "reason": mount}
        home = Home(root, f"disk-{workers}", db=mount / "agent-tui.db")
        person = Person(home)
        filler = mount / "filler"
        try:
            for _ in range(3):
                home.add(10, "echo {key} >> effects.log; sleep 0.2", max_parallel=2)
            procs = [home.spawn("worker", "--until-idle") for _ in range(workers)]
            wait_for(lambda: home.progress() >= 2 and home.running() > 0, "commands to run")
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
            filled = time.time()
            time.sleep(seconds)
            freed = time.time()
            filler.unlink()
            recover = first_success_after(home, freed)
            codes = [proc.wait(180) for proc in procs]
            if home.unfinished():
                finish(home, person)
            fenced = home.scalar("SELECT count(*) FROM events WHERE kind = 'action.fenced'")
            result = {
                "full_s": seconds,
                "workers": workers,
                **tally(home),
                **person.summary(),
                "fenced_events": int(fenced),
                "successes_recorded_while_full": successes_between(home, filled, freed),
                "worker_exits": codes,
            }
            return verdict(result, recover, unasked=True)
        finally:
            filler.unlink(missing_ok=True)
            home.close()


def guarded(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one scenario; a scenario that breaks is reported as such, not as a crash."""
    started = time.monotonic()
    try:
        result = run()
    except Exception as exc:  # a broken scenario is a finding, reported in the JSON
        result = {"error": f"{type(exc).__name__}: {exc}", "meets_target": False}
    result["took_s"] = round(time.monotonic() - started, 1)
    print(f"faults: {name} done in {result['took_s']} s", file=sys.stderr, flush=True)
    return result


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--kills", type=int, default=50, help="SIGKILLs in the first scenario")
    p.add_argument("--lock", type=float, default=10.0, help="seconds the foreign lock is held")
    p.add_argument("--full", type=float, default=5.0, help="seconds the disk stays full")
    p.add_argument("--quick", action="store_true", help="5 kills, a 6 s lock: a smoke run")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--keep", action="store_true", help="keep the homes even when all is well")
    p.add_argument(
        "--only",
        choices=[
            "sigkill",
            "sigstop",
            "sigstop_outlives",
            "lock",
            "lock_two_workers",
            "disk",
            "disk_two_workers",
        ],
        action="append",
    )
    args = p.parse_args()
    if args.quick:
        args.kills, args.lock, args.full = 5, 6.0, 3.0
    root = Path(tempfile.mkdtemp(prefix="agent-tui-faults-"))
    rng = random.Random(args.seed)
    scenarios: dict[str, Callable[[], dict[str, Any]]] = {
        "sigkill": lambda: sigkill(root, args.kills, rng),
        "sigstop": lambda: sigstop(root, outlives=False),
        "sigstop_outlives": lambda: sigstop(root, outlives=True),
        "lock": lambda: foreign_lock(root, args.lock, workers=1),
        "lock_two_workers": lambda: foreign_lock(root, args.lock, workers=2),
        "disk": lambda: full_disk(root, args.full, workers=1),
        "disk_two_workers": lambda: full_disk(root, args.full, workers=2),
    }
    results = {
        name: guarded(name, run)
        for name, run in scenarios.items()
        if not args.only or name in args.only
    }
    met = all(r.get("meets_target") or r.get("skipped") for r in results.values())
    kept = args.keep or not met
    if not kept:
        shutil.rmtree(root, ignore_errors=True)
    report(
        {
            "benchmark": "faults",
            "lease_s": LEASE_S,
            "targets": {"steps_lost": 0, "side_effects_doubled": 0, "recover_s": LEASE_S + 2},
            "scenarios": results,
            "meets_targets": met,
            "homes_kept_in": str(root) if kept else None,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
