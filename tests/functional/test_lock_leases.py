"""A foreign write lock longer than the lease stops every process's lease clock: when it goes, no
live process's steps are taken over as if it had died (nobody is asked, every worker exits 0)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _recipe(path: Path, title: str) -> Path:
    lines = [f'title = "{title}"', "max_parallel = 2"]
    for i in range(8):
        command = f"echo {title}s{i} >> effects.log; sleep 0.2"
        lines += [
            "[[steps]]",
            f'id = "s{i}"',
            'tool = "shell"',
            f"args = {{ command = {command!r} }}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.sqlite_only
def test_a_lock_past_the_lease_takes_over_no_live_worker(home: Path, tmp_path: Path) -> None:
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(
        '[policy.tools]\nshell = "allow"\n[checkpoints]\nenabled = false\n'
        "[executor]\nlease_seconds = 2\nheartbeat_seconds = 0.5\n"
    )
    db = home / "data" / "agent-tui.db"
    for n in range(2):
        recipe = _recipe(tmp_path / f"r{n}.toml", f"g{n}")
        added = subprocess.run(
            [*CLI, "add", "--recipe", str(recipe)], env=cli_env(home), capture_output=True
        )
        assert added.returncode == 0, added.stderr
    workers = [
        subprocess.Popen(
            [*CLI, "worker", "--until-idle"],
            env=cli_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    running = "SELECT count(*) FROM actions WHERE status = 'running'"
    try:
        deadline = time.monotonic() + 30
        while not conn.execute(running).fetchone()[0]:
            assert time.monotonic() < deadline, "no command started"
            time.sleep(0.02)
        subprocess.run([sys.executable, "-c", LOCKER, str(db), "6"], timeout=30)  # 3 leases
        results = [w.communicate(timeout=90) for w in workers]
    finally:
        for w in workers:
            w.kill()
    codes = [w.returncode for w in workers]
    assert codes == [0, 0], [err for _, err in results]
    assert conn.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0
    assert (
        conn.execute("SELECT count(*) FROM events WHERE kind = 'action.fenced'").fetchone()[0] == 0
    )
    statuses = {r[0] for r in conn.execute("SELECT status FROM goals")}
    workspaces = {Path(r[0]) for r in conn.execute("SELECT workspace FROM goals")}
    conn.close()
    assert statuses == {"completed"}
    lines = [line for ws in workspaces for line in (ws / "effects.log").read_text().split()]
    assert sorted(lines) == sorted(f"g{n}s{i}" for n in range(2) for i in range(8))
