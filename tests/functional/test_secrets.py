"""A planted key never reaches the database file, the output logs, the log file, any artifact or
the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_tui.config import STORE_URL_ENV, Settings
from agent_tui.core.goals import add_text_goal
from agent_tui.core.secrets import Redactor, StreamRedactor, from_environment
from agent_tui.core.store import Store
from tests.conftest import CLI, cli_env
from tests.fake_llm import FakeLLM, call, text
from tests.helpers import run_idle

KEY = "sk-planted-7f3a9c2e1b5d4a8f"


def test_redactor_finds_credential_names() -> None:
    env = {
        "FOO_API_KEY": KEY,
        "GITHUB_TOKEN": "ghp_abcdef123456",
        "DB_PASSWORD": "hunter22",
        "HOME": "/root",
        "SHORT_TOKEN": "abc",
        "MY_DSN": "postgres://u:p@h/db",
    }
    redactor = from_environment(env, extra_names=["MY_DSN"])
    text = f"key={KEY} gh=ghp_abcdef123456 pw=hunter22 home=/root abc dsn=postgres://u:p@h/db"
    assert redactor.redact(text) == (
        "key=[redacted:FOO_API_KEY] gh=[redacted:GITHUB_TOKEN] "
        "pw=[redacted:DB_PASSWORD] home=/root abc "
        "dsn=[redacted:MY_DSN]"
    )


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11])
def test_stream_redactor_catches_a_split_secret(size: int) -> None:
    stream = StreamRedactor(Redactor({"X_API_KEY": KEY}))
    text = f"before {KEY} middle {KEY}"
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size))
    out += stream.flush()
    assert out == "before [redacted:X_API_KEY] middle [redacted:X_API_KEY]"


def _everything(home: Path) -> bytes:
    """Every file agent-tui wrote under its home (workspaces aside), and the database."""
    blobs = b""
    for path in home.rglob("*"):
        if path.is_file() and "workspaces" not in path.parts:
            blobs += path.read_bytes()
    return blobs + _database(home)


def _database(home: Path) -> bytes:
    """What the database holds: the SQLite files, or a dump of the PostgreSQL database."""
    url = os.environ.get(STORE_URL_ENV)
    if url:
        from tests.postgres_cluster import bindir

        pg_dump = bindir() / "pg_dump"  # type: ignore[operator]
        return subprocess.run(
            [str(pg_dump), "--data-only", url], capture_output=True, check=True
        ).stdout
    db = home / "data" / "agent-tui.db"
    return b"".join(p.read_bytes() for p in db.parent.glob("agent-tui.db*") if p.is_file())


def test_planted_key_is_stored_nowhere(tmp_path: Path, home: Path) -> None:
    recipe = tmp_path / "leak.toml"
    recipe.write_text("""
title = "leaky"
[[steps]]
id = "print"
tool = "shell"
args = { command = "echo key is $PLANTED_API_KEY; for i in $(seq 3000); do echo $PLANTED_API_KEY; done; echo $PLANTED_API_KEY >&2" }

[[steps]]
id = "env"
tool = "shell"
args = { command = "env | grep PLANTED" }

[[steps]]
id = "doc"
tool = "write_document"
depends_on = ["env"]
args = { name = "Leak", content = "{{ steps.env.output }}" }
""")
    env = cli_env(home, PLANTED_API_KEY=KEY, AGENT_TUI_POLICY__TOOLS='{ shell = "allow" }')
    subprocess.run([*CLI, "add", "--recipe", str(recipe)], env=env, check=True, capture_output=True)
    worker = subprocess.run(
        [*CLI, "worker", "--until-idle", "--output"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    assert KEY not in worker.stderr and "[redacted:PLANTED_API_KEY]" in worker.stderr
    shown = subprocess.run(
        [*CLI, "show", "1", "--json"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert KEY not in shown
    detail = json.loads(shown)
    assert detail["goal"]["status"] == "completed"
    [doc] = detail["artifacts"]
    assert "PLANTED_API_KEY=[redacted:PLANTED_API_KEY]" in doc["content"]
    assert KEY.encode() not in _everything(home)
    assert any((home / "data" / "outputs").glob("*.log"))


async def test_planted_key_never_reaches_the_model(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTED_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-planted")
    with FakeLLM() as fake:
        settings.model = "openai/test"
        settings.llm.api_base = fake.api_base
        settings.policy.tools["shell"] = "allow"
        fake.script(
            text(
                json.dumps(
                    {
                        "steps": [
                            {"id": "a", "title": "A", "instructions": "look", "tools": ["shell"]}
                        ]
                    }
                )
            ),
            call("shell", {"command": "echo $PLANTED_API_KEY"}),
            call("finish_step", {"summary": "done"}),
        )
        goal = add_text_goal(store, "print the key")
        await run_idle(store, settings)
        sent = json.dumps(fake.requests)
    assert store.one("SELECT status FROM goals WHERE id = ?", (goal,))["status"] == "completed"
    assert KEY not in sent and "[redacted:PLANTED_API_KEY]" in sent


# -- [secrets] names in every process and at every write path ---------------------------------

DSN = "postgres://app:Hunter2-db-pw@db.internal/prod"
QUOTED = 'pa"ss\\word-9f3e'
"""Stored JSON escapes it (``pa\\"ss\\\\word``): that spelling is redacted too."""


def _configure(home: Path, *names: str) -> None:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[secrets]\nnames = {json.dumps(list(names))}\n")


def _spellings(value: str) -> list[bytes]:
    return [value.encode(), json.dumps(value)[1:-1].encode()]


def test_config_secret_in_recipe_args_is_stored_nowhere(tmp_path: Path, home: Path) -> None:
    """``add`` from the CLI (no executor in that process) knows ``[secrets] names`` too."""
    _configure(home, "MY_DSN", "MY_PHRASE")
    recipe = tmp_path / "dsn.toml"
    recipe.write_text(
        'title = "migrate"\n'
        "[[steps]]\n"
        'id = "migrate"\n'
        'tool = "shell"\n'
        f"args = {{ command = {json.dumps(f'echo literal {DSN} {QUOTED}; echo env $MY_DSN')} }}\n"
    )
    env = cli_env(home, MY_DSN=DSN, MY_PHRASE=QUOTED, AGENT_TUI_POLICY__TOOLS='{ shell = "allow" }')
    added = subprocess.run(
        [*CLI, "add", "--recipe", str(recipe)], env=env, capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    stored = _database(home)
    assert b"[redacted:MY_DSN]" in stored
    for secret in (DSN, QUOTED):
        assert not any(s in stored for s in _spellings(secret)), secret
    worker = subprocess.run(
        [*CLI, "worker", "--until-idle", "--output"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    assert "env [redacted:MY_DSN]" in worker.stderr
    out = tmp_path / "export"
    subprocess.run(
        [*CLI, "export", "1", "--out", str(out)], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, os\n"
            "from agent_tui import logs\n"
            "logs.setup()\n"
            "logging.getLogger('agent_tui.test').warning('dsn %s', os.environ['MY_DSN'])\n",
        ],
        env=env,
        check=True,
    )
    log = home / "state" / "agent-tui.log"
    assert "dsn [redacted:MY_DSN]" in log.read_text()
    everything = _everything(home) + b"".join(p.read_bytes() for p in out.iterdir())
    for secret in (DSN, QUOTED):
        assert not any(s in everything for s in _spellings(secret)), secret


def test_export_redacts_rows_stored_before_a_name_was_configured(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_tui.core.export import export_goal, render_markdown
    from agent_tui.core.secrets import for_settings
    from tests.helpers import add, echo

    monkeypatch.setenv("MY_DSN", DSN)
    goal = add(store, {"title": "old", "steps": [echo("a", f"connect {DSN}")]})
    assert DSN.encode() in _database(store.path.parent.parent)
    settings.secrets.names = ["MY_DSN"]
    store.redactor = for_settings(settings)
    doc = export_goal(store, goal)
    text = json.dumps(doc) + render_markdown(doc)
    assert DSN not in text and "[redacted:MY_DSN]" in text


def test_redactor_catches_the_json_spelling() -> None:
    redactor = Redactor({"MY_PHRASE": QUOTED})
    assert (
        redactor.redact(json.dumps({"k": f"x {QUOTED} y"})) == '{"k": "x [redacted:MY_PHRASE] y"}'
    )


def test_doctor_warns_about_a_secret_too_short_to_redact(home: Path) -> None:
    _configure(home, "MY_PIN")
    env = cli_env(home, MY_PIN="zq9", SHORT_API_TOKEN="qx7w", LONG_API_KEY="long-enough-1")
    report = subprocess.run(
        [*CLI, "doctor", "--json"], env=env, capture_output=True, text=True, check=False
    )
    warnings = json.loads(report.stdout)["warnings"]
    assert len(warnings) == 2
    assert any(w.startswith("MY_PIN is set but shorter than 6 characters") for w in warnings)
    assert any(w.startswith("SHORT_API_TOKEN is set") for w in warnings)
    text = subprocess.run([*CLI, "doctor"], env=env, capture_output=True, text=True).stdout
    assert "warning     MY_PIN is set but shorter than 6 characters" in text
    assert "zq9" not in text + report.stdout and "qx7w" not in text + report.stdout


def test_every_store_and_redactor_comes_from_the_one_function() -> None:
    """Front ends open the database only through ``open_store`` (which adds the config's secret
    names); no module but ``secrets`` builds a redactor."""
    import ast

    from tests.conftest import ROOT

    allowed = {
        "Store": {"core/store/connection.py", "core/store/opening.py"},
        "Redactor": {"core/secrets.py"},
    }
    allowed["from_environment"] = {"core/secrets.py", "core/store/connection.py"}
    for path in (ROOT / "agent_tui").rglob("*.py"):
        rel = path.relative_to(ROOT / "agent_tui").as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert rel in allowed.get(name, {rel}), f"{rel}:{node.lineno} calls {name}()"


def test_planted_key_is_stored_nowhere_after_an_agent_run(home: Path) -> None:
    """An agent step (scripted model) through the real worker: the key comes back from a tool and
    the model itself repeats it in its text, a tool argument, a document and its summary."""
    with FakeLLM() as fake:
        env = cli_env(
            home,
            PLANTED_API_KEY=KEY,
            OPENAI_API_KEY="sk-test-not-planted",
            AGENT_TUI_MODEL="openai/test-model",
            AGENT_TUI_LLM__API_BASE=fake.api_base,
            AGENT_TUI_POLICY__TOOLS='{ shell = "allow" }',
        )
        step = {
            "id": "a",
            "title": "A",
            "instructions": "look",
            "tools": ["shell", "write_document"],
        }
        fake.script(
            text(json.dumps({"steps": [step]})),
            call("shell", {"command": "echo key is $PLANTED_API_KEY"}),
            text(f"I found the key {KEY}."),
            call("shell", {"command": f"echo {KEY} >&2"}),
            call("write_document", {"name": "Found", "content": f"# Found\n\nkey: {KEY}\n"}),
            call("finish_step", {"summary": f"the key is {KEY}"}),
        )
        subprocess.run(
            [*CLI, "add", "find the key"], env=env, check=True, capture_output=True, timeout=60
        )
        worker = subprocess.run(
            [*CLI, "worker", "--until-idle", "--output"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        sent = json.dumps(fake.requests)
    assert worker.returncode == 0, worker.stderr
    assert KEY not in worker.stderr and KEY not in worker.stdout
    shown = subprocess.run(
        [*CLI, "show", "1", "--json"], env=env, capture_output=True, text=True, check=True
    ).stdout
    detail = json.loads(shown)
    assert detail["goal"]["status"] == "completed", shown
    assert [a["tool"] for a in detail["actions"]] == ["shell", "shell", "write_document"]
    assert KEY not in shown
    [doc] = [a for a in detail["artifacts"] if a["name"] == "Found"]
    assert "key: [redacted:PLANTED_API_KEY]" in doc["content"]
    # What tools return reaches the model redacted (its own words may come back to it as said).
    assert "key is [redacted:PLANTED_API_KEY]" in sent
    everything = _everything(home)
    assert b"[redacted:PLANTED_API_KEY]" in everything  # the files were read, and redacted
    assert KEY.encode() not in everything
    assert (home / "state" / "agent-tui.log").is_file()  # the log file was among those read
