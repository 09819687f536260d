"""A planted key never reaches the database file, the output logs, the log file, any artifact or
the model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent_tui.config import Settings
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
    blobs = b""
    for path in home.rglob("*"):
        if path.is_file() and "workspaces" not in path.parts:
            blobs += path.read_bytes()
    return blobs


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
