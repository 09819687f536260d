"""The PostgreSQL backend against a real server (a throwaway cluster the session starts): the
schema, the executor's transactions, approvals from another process, wakes by ``NOTIFY``, and
several real workers sharing the work exactly once. Skipped where PostgreSQL is not installed."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent_tui.config import STORE_URL_ENV, Settings, load_settings
from agent_tui.core import control
from agent_tui.core import executor as executor_module
from agent_tui.core.executor import Executor
from agent_tui.core.store import StoreError, open_store
from agent_tui.core.store.postgres import PgStore, translate
from agent_tui.core.store.schema import SCHEMA_VERSION
from tests.conftest import CLI, cli_env
from tests.helpers import add, echo, goal_status, pending_approvals, steps, wait_for

pytestmark = pytest.mark.xdist_group("postgres")  # one throwaway cluster, on one xdist worker


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real program with ``args`` in ``env``, its output captured."""
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


HOST_ENV = "AGENT_TUI_EXECUTOR__HOST"
"""The name a worker's host goes by (``[executor] host``): a host of its own per worker."""


@pytest.fixture
def url(pg_cluster: Any) -> str:
    return str(pg_cluster.database())


def test_statements_are_translated_once_and_literals_kept() -> None:
    sql = "SELECT * FROM t WHERE a = ? AND b LIKE '%?x%' AND length(CAST(c AS BLOB)) > ?"
    assert translate(sql, True) == (
        "SELECT * FROM t WHERE a = %s AND b LIKE '%%?x%%' AND octet_length(c) > %s"
    )
    assert translate("SELECT json_extract(data, '$.a.b') FROM e", False) == (
        "SELECT (data::jsonb #>> '{a,b}') FROM e"
    )


def test_the_schema_is_made_once_and_a_newer_one_is_refused(url: str) -> None:
    first = PgStore(url)
    again = PgStore(url)  # a second process finds it made
    assert first.execute("SELECT max(version) FROM agent_tui_schema").fetchone()[0] == (
        SCHEMA_VERSION
    )
    first.execute("UPDATE agent_tui_schema SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this agent-tui understands"):
        PgStore(url)
    first.close()
    again.close()


def test_an_unreachable_server_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot reach the PostgreSQL database .*\[store\] url"):
        PgStore("postgresql://nobody:secret@127.0.0.1:9/none")
    try:
        PgStore("postgresql://nobody:secret@127.0.0.1:9/none")
    except StoreError as exc:
        assert "secret" not in str(exc)


def test_the_url_comes_from_the_config_or_the_environment(url: str, tmp_path: Path) -> None:
    conf = tmp_path / "config.toml"
    conf.write_text(f'[store]\nurl = "{url}"\n')
    settings = load_settings(conf, environ={})
    assert settings.store.url == url
    assert load_settings(tmp_path / "none.toml", environ={STORE_URL_ENV: url}).store.url == url
    store = open_store(settings)
    assert store.dialect == "postgresql"
    store.close()
    conf.write_text('[store]\nurl = "mysql://x"\n')
    with pytest.raises(Exception, match="must be a postgresql:// url"):
        load_settings(conf, environ={})


async def test_recipes_run_and_approvals_from_another_connection_wake_the_executor(
    url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety nets are set beyond the test's time limit: only ``NOTIFY`` can wake it."""
    monkeypatch.setattr(executor_module, "TICK_SECONDS", 3600.0)
    settings.executor.watch_interval_ms = 60_000
    mine, other = PgStore(url), PgStore(url)
    executor = Executor(mine, settings)
    await executor.start(detect_model=False)
    try:
        await asyncio.sleep(0.2)
        goal = add(
            other,
            {
                "title": "on postgresql",
                "steps": [
                    echo("a", "first"),
                    echo("b", "{{ steps.a.output }} then second", depends_on=["a"]),
                    echo("c", "asked", approval="ask", depends_on=["b"]),
                ],
            },
        )
        await wait_for(lambda: pending_approvals(other), 30.0, "the asking step to wait")
        [approval] = pending_approvals(other)
        control.approve(other, approval["id"])
        await wait_for(
            lambda: goal_status(other, goal) == "completed", 30.0, "the goal to complete"
        )
        rows = steps(other, goal)
        assert rows["b"]["result"]["output"] == "first then second"
        assert rows["c"]["status"] == "completed"
    finally:
        await executor.stop()
        mine.close()
        other.close()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_workers_on_several_hosts_run_every_step_exactly_once(
    url: str, home: Path, tmp_path: Path
) -> None:
    """Four real workers as four hosts (a home, a host name and a label of their own each), one
    database, 2,000 steps in 8 goals for the label they share: every step runs once, and every
    goal on the one host that took it first (its workspace is there)."""
    recipe = tmp_path / "many.toml"
    lines = ['title = "many"', 'runs_on = "pool"', "max_parallel = 8"]
    for i in range(250):
        lines += ["[[steps]]", f'id = "s{i}"', 'tool = "echo"', f'args = {{ text = "{i}" }}']
    recipe.write_text("\n".join(lines) + "\n")
    env = cli_env(home, **{STORE_URL_ENV: url})
    for _ in range(8):
        out = _cli(env, "add", "--json", "--recipe", str(recipe))
        assert out.returncode == 0, out.stderr
    # Each worker's events go to a file: a pipe nobody reads while another worker is waited
    # for fills up and stops the worker writing to it (its leases then run out).
    logs = [tmp_path / f"worker{i}.log" for i in range(4)]
    workers = [
        subprocess.Popen(
            [*CLI, "worker", "--until-idle", "--labels", f"pool,box{i}"],
            env=cli_env(tmp_path / f"host{i}", **{STORE_URL_ENV: url, HOST_ENV: f"box{i}"}),
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for i, log in enumerate(logs)
    ]
    for worker, log in zip(workers, logs, strict=True):
        worker.wait(timeout=360)
        assert worker.returncode == 0, log.read_text()[-3000:]
        assert "Traceback" not in log.read_text()
    store = PgStore(url)
    try:
        counts = store.all(
            "SELECT step_id, count(*) AS n FROM actions WHERE status = 'succeeded' GROUP BY step_id"
        )
        left = store.all(
            "SELECT g.id, g.status, g.host, s.status AS step, max(s.error) AS error, count(*) AS n"
            " FROM goals g"
            " JOIN steps s ON s.goal_id = g.id WHERE s.status != 'completed'"
            " GROUP BY g.id, g.status, g.host, s.status"
        )
        odd = store.all(
            "SELECT goal_id, kind, message FROM events WHERE kind NOT IN ('action.running',"
            " 'action.succeeded', 'step.completed', 'step.started', 'goal.created',"
            " 'goal.started', 'goal.completed', 'executor.started', 'executor.stopped')"
        )
        assert len(counts) == 2000, (left, odd)
        assert {r["n"] for r in counts} == {1}
        assert odd == []  # no worker died: none was thought dead, no step taken back
        placed = store.all(
            "SELECT g.host, count(DISTINCT a.owner) AS owners FROM goals g"
            " JOIN actions a ON a.goal_id = g.id GROUP BY g.id, g.host"
        )
        assert len(placed) == 8 and all(r["owners"] == 1 for r in placed)
        assert len({r["host"] for r in placed}) >= 2, "the work was shared between hosts"
        assert {r["host"] for r in placed} <= {f"box{i}" for i in range(4)}
    finally:
        store.close()


def test_a_writer_holding_the_lock_is_a_wait_said_once_or_busy_for_a_caller_that_cannot_wait(
    url: str,
) -> None:
    """Another session holds the write lock (as a slow writer on another host would)."""
    import threading

    import psycopg

    from agent_tui.core.store import Busy
    from agent_tui.core.store.postgres import WRITE_LOCK

    holder = psycopg.connect(url, autocommit=True)
    store = PgStore(url)
    told: list[bool] = []
    store.busy_hooks.append(lambda waiting, _pids: told.append(waiting))
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        with pytest.raises(Busy), store.nowait(), store.write() as tx:
            tx.event("never", "never written")
        release = threading.Timer(4.0, lambda: holder.execute("SELECT pg_advisory_unlock_all()"))
        release.start()
        with store.write() as tx:  # waits past the warning time, then goes on
            tx.event("written", "after the wait")
        assert told == [True, False]
        assert [e.kind for e in store.events_after(0)] == ["written"]
    finally:
        if "release" in locals():
            release.join()
        holder.close()
        store.close()


def test_migrate_copies_everything_verifies_it_and_refuses_a_non_empty_target(
    url: str, home: Path, tmp_path: Path
) -> None:
    sqlite_env = cli_env(home)  # no url: the SQLite file
    sqlite_env.pop(STORE_URL_ENV, None)

    def cli(*args: str, env: dict[str, str] = sqlite_env) -> subprocess.CompletedProcess[str]:
        return _cli(env, *args)

    assert cli("add", "--recipe", "workspace-notes").returncode == 0
    assert cli("worker", "--until-idle").returncode == 0
    assert cli("add", "--recipe", "system-report").returncode == 0
    assert cli("worker", "--until-idle").returncode == 3  # its approvals wait
    before = json.loads(cli("show", "1", "--json").stdout)

    out = cli("migrate", "--to", url, "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert rows["goals"] == 2 and rows["steps"] > 0 and rows["events"] > 0

    pg_env = cli_env(home, **{STORE_URL_ENV: url})
    after = json.loads(cli("show", "1", "--json", env=pg_env).stdout)
    assert after["goal"] == before["goal"]
    assert after["steps"] == before["steps"]
    assert [a["name"] for a in after["artifacts"]] == [a["name"] for a in before["artifacts"]]
    pending = cli("approvals", "--json", env=pg_env)
    assert len(json.loads(pending.stdout)) == 5
    added = cli("add", "--recipe", "workspace-notes", "--json", env=pg_env)
    assert json.loads(added.stdout)["id"] == 3  # new ids continue after the copied ones

    again = cli("migrate", "--to", url)
    assert again.returncode != 0
    assert "is not empty (3 goals" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_server_restart_mid_run_loses_nothing_and_runs_nothing_twice(
    pg_cluster: Any, url: str, home: Path, tmp_path: Path
) -> None:
    """The server stops at once (every connection cut) while a worker runs a goal, and starts
    again: the worker reconnects by itself, and every step's command ran exactly once."""
    import time

    ledger = tmp_path / "ledger"
    ledger.mkdir()
    recipe = tmp_path / "slow.toml"
    lines = ['title = "through a restart"', "max_parallel = 3", f'workspace = "{ledger}"']
    for i in range(40):
        lines += [
            "[[steps]]",
            f'id = "s{i}"',
            'tool = "shell"',
            f"args = {{ command = 'sleep 0.1; echo s{i} >> runs.log' }}",
        ]
    recipe.write_text("\n".join(lines) + "\n")
    env = cli_env(
        home,
        **{STORE_URL_ENV: url, "AGENT_TUI_POLICY__TOOLS": '{ shell = "allow" }'},
    )
    added = _cli(env, "add", "--json", "--recipe", str(recipe))
    assert added.returncode == 0, added.stderr
    worker = subprocess.Popen(
        [*CLI, "worker", "--until-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = ledger / "runs.log"
    deadline = time.monotonic() + 120
    while not log.exists() or len(log.read_text().split()) < 8:
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        assert time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.05)
    pg_cluster.restart()
    _, err = worker.communicate(timeout=240)
    assert worker.returncode == 0, err
    said = (home / "state" / "agent-tui.log").read_text()
    assert "connected to" in said and "again" in said  # it noticed, and said so
    ran = log.read_text().split()
    assert sorted(ran) == sorted(f"s{i}" for i in range(40)), "each command ran exactly once"
    store = PgStore(url)
    try:
        assert store.one("SELECT status FROM goals")["status"] == "completed"  # type: ignore[index]
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_labels_and_hosts_place_goals_and_say_why_one_waits(
    url: str, home: Path, tmp_path: Path
) -> None:
    """Two "hosts" (homes and host names of their own) on one database: a goal for the label
    ``gpu`` waits for a worker with it, and a goal stays on the host that started it (its
    workspace is there) unless workspaces are shared."""

    def recipe(name: str, extra: str = "") -> Path:
        path = tmp_path / f"{name}.toml"
        steps = "".join(
            f'[[steps]]\nid = "s{i}"\ntool = "echo"\nargs = {{ text = "{i}" }}\n' for i in range(3)
        )
        path.write_text(f'title = "{name}"\n{extra}{steps}')
        return path

    def host(name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        homed = cli_env(tmp_path / name, **{STORE_URL_ENV: url, HOST_ENV: name, **env})
        return _cli(homed, *args)

    assert (
        host("laptop", "add", "--recipe", str(recipe("trained", 'runs_on = "gpu"\n'))).returncode
        == 0
    )
    plain = host("laptop", "worker", "--until-idle")
    assert plain.returncode == 3, plain.stderr  # blocked: the goal waits, and it is said
    assert "goal 1 waits for a worker labelled 'gpu'" in plain.stderr
    gpu = host("gpubox", "worker", "--until-idle", "--labels", "gpu")
    assert gpu.returncode == 0, gpu.stderr
    store = PgStore(url)
    try:
        assert store.one("SELECT status, host FROM goals WHERE id = 1") == {
            "status": "completed",
            "host": "gpubox",
        }
        # A goal started on one host is pinned there: its workspace is a path on that host.
        store.execute("UPDATE goals SET host = 'buildbox' WHERE id = 1")
        assert host("laptop", "add", "--recipe", str(recipe("pinned"))).returncode == 0
        store.execute("UPDATE goals SET host = 'buildbox' WHERE id = 2")
        other = host("laptop", "worker", "--until-idle")
        assert other.returncode == 3, other.stderr
        assert "goal 2 waits for a worker on host 'buildbox'" in other.stderr
        listed = host("laptop", "ls")  # a viewer on any host says it too
        assert "goal 2 waits for a worker on host 'buildbox'" in listed.stdout, listed.stdout
        assert store.one("SELECT status FROM goals WHERE id = 2") == {"status": "queued"}
        shared = host(
            "laptop", "worker", "--until-idle", AGENT_TUI_EXECUTOR__SHARED_WORKSPACES="true"
        )
        assert shared.returncode == 0, shared.stderr
        assert store.one("SELECT status FROM goals WHERE id = 2") == {"status": "completed"}
        workers = store.all("SELECT labels FROM workers")
        assert workers == []  # each worker said goodbye
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_worker_whose_server_is_gone_still_stops_when_asked(home: Path, tmp_path: Path) -> None:
    """The server stops for good (a cluster of this test's own): SIGTERM still ends the worker,
    which waits for the server only so long at a time, and says what happened."""
    import signal
    import time

    from tests.postgres_cluster import Cluster

    cluster = Cluster().start()
    try:
        url = cluster.database()
        worker = subprocess.Popen(
            [*CLI, "worker"],
            env=cli_env(home, **{STORE_URL_ENV: url}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        store = PgStore(url)
        deadline = time.monotonic() + 60
        while not store.all("SELECT id FROM workers"):
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.1)
        store.close()
        cluster.stop("immediate")
        time.sleep(2)  # it has noticed, and waits for the server
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=180)
        assert "Traceback" not in err
        said = (home / "state" / "agent-tui.log").read_text()
        assert "is away" in said or "cannot reach the PostgreSQL database" in said
    finally:
        if "worker" in locals() and worker.poll() is None:
            worker.kill()
        cluster.remove()
