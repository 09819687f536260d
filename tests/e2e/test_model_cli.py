"""The model as the CLI shows it: doctor checks it for real, show and export hold the
conversations, costs and tokens are told truthfully, LiteLLM never writes to stdout."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env
from tests.fake_llm import FakeLLM, call, text


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def run(home: Path, fake: FakeLLM, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(
        home,
        AGENT_TUI_MODEL="openai/test-model",
        AGENT_TUI_LLM__API_BASE=fake.api_base,
        AGENT_TUI_RETRY__BASE_DELAY="0.05",
        OPENAI_API_KEY="sk-test",
        **extra,
    )
    out = subprocess.run(
        [*CLI, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out


def export(home: Path, fake: FakeLLM, goal: str) -> dict:
    out = run(home, fake, "export", goal, "--out", str(home))
    assert out.returncode == 0, out.stderr
    return json.loads((home / f"goal-{goal}.json").read_text())


def plan(key: str) -> str:
    step = {"id": key, "title": f"Do {key}", "instructions": "do it", "tools": ["write_file"]}
    return json.dumps({"steps": [step]})


def test_doctor_checks_the_model_server_up(home: Path, fake: FakeLLM) -> None:
    fake.script(text("ready"))
    out = run(home, fake, "doctor")
    assert out.returncode == 0, out.stdout
    assert f"api_base    {fake.api_base}" in out.stdout
    assert "model check ok: openai/test-model at " + fake.api_base in out.stdout
    assert "answered “ready” in " in out.stdout and "lists test-model" in out.stdout
    report = json.loads(run(home, fake, "doctor", "--json").stdout)
    assert report["model"]["check"]["ok"] is False  # the script had one reply: the next is a 500
    fake.script(text("ready"))
    report = json.loads(run(home, fake, "doctor", "--json").stdout)
    assert report["model"]["check"]["ok"] and report["model"]["check"]["models"] == ["test-model"]


def test_doctor_says_what_failed_with_the_server_down(home: Path, fake: FakeLLM) -> None:
    fake.down()
    out = run(home, fake, "doctor")
    assert out.returncode == 1
    assert f"model check FAILED: no answer from {fake.api_base}" in out.stdout
    assert f"fix: start the model server at {fake.api_base}" in out.stdout
    assert "1 problem(s) above" in out.stdout


def test_doctor_says_when_the_server_gives_an_empty_answer(home: Path, fake: FakeLLM) -> None:
    fake.script(text(""))
    out = run(home, fake, "doctor")
    assert out.returncode == 1
    assert "model check FAILED" in out.stdout and "reply was empty" in out.stdout


def test_transcript_costs_and_quiet_stdout(home: Path, fake: FakeLLM) -> None:
    fake.script(
        text(plan("a"), usage=False),
        text("half of a reply", cut_after=3),
        call("write_file", {"path": "n.txt", "content": "secret-free"}),
        call("finish_step", {"summary": "wrote n.txt"}),
    )
    goal = run(home, fake, "add", "write a note").stdout.strip()
    worker = run(home, fake, "worker", "--until-idle", "--output")
    assert worker.returncode == 0, worker.stderr
    assert "LiteLLM" not in worker.stdout and "LiteLLM" not in worker.stderr
    assert "half of\n[agent-tui: that reply was cut off; it is discarded]" in worker.stderr
    shown = run(home, fake, "show", goal, "--transcript").stdout
    assert "status    completed" in shown
    assert "about " in shown and "(estimated)" in shown  # the plan's usage was estimated
    assert "cost unknown" in shown and "$0.0000" not in shown
    assert "conversation of step 'a' (agent" in shown
    assert "→ write_file(" in shown and "[tool result (" in shown
    assert "half of a reply" not in shown  # a cut reply is never stored as the model's answer
    doc = export(home, fake, goal)
    roles = [m["role"] for c in doc["conversations"] for m in c["messages"]]
    assert roles.count("assistant") == 3
    markdown = (home / f"goal-{goal}.md").read_text()
    assert "## Conversations" in markdown and "→ finish_step(" in markdown


def test_failed_goal_gets_a_final_report(home: Path, fake: FakeLLM) -> None:
    fake.script(
        text(plan("a")),
        call("write_file", {"path": "done.txt", "content": "x"}),
        call("fail_step", {"reason": "the rest cannot be done"}),
    )
    goal = run(home, fake, "add", "half a job", AGENT_TUI_LLM__MAX_REPLANS="0").stdout.strip()
    run(home, fake, "worker", "--until-idle", AGENT_TUI_LLM__MAX_REPLANS="0")
    doc = export(home, fake, goal)
    assert doc["goal"]["status"] == "failed"
    [report] = [d for d in doc["documents"] if d["name"] == "Final report"]
    assert "The goal failed:" in report["content"] and "cannot be done" in report["content"]
    assert "write_file `done.txt` — succeeded" in report["content"]
