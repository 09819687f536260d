"""A worker killed while its agent step waits for the model; another resumes from the transcript."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env
from tests.fake_llm import FakeLLM, call, text

pytestmark = pytest.mark.slow


def test_crash_mid_step_resumes_without_repeating_a_finished_call(
    tmp_path: Path, home: Path
) -> None:
    with FakeLLM() as fake:
        env = cli_env(
            home,
            AGENT_TUI_MODEL="openai/test-model",
            AGENT_TUI_LLM__API_BASE=fake.api_base,
            OPENAI_API_KEY="sk-test",
            AGENT_TUI_EXECUTOR__LEASE_SECONDS="2",
            AGENT_TUI_EXECUTOR__HEARTBEAT_SECONDS="0.5",
        )
        fake.script(
            text(
                json.dumps(
                    {
                        "steps": [
                            {
                                "id": "append",
                                "title": "Append a line",
                                "instructions": "append x to log.txt",
                                "tools": ["write_file"],
                            }
                        ]
                    }
                )
            ),
            call("write_file", {"path": "log.txt", "content": "x\n", "append": True}),
            text("this reply never arrives", delay=20),
            call("finish_step", {"summary": "appended one line to log.txt"}),
        )
        added = subprocess.run(
            [*CLI, "add", "append a line", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        goal = json.loads(added.stdout)["id"]
        log = tmp_path / "worker.log"
        worker = subprocess.Popen(
            [*CLI, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=log.open("w")
        )
        deadline = time.monotonic() + 60
        while len(fake.requests) < 3:  # the third call is in flight, the tool call is done
            assert time.monotonic() < deadline, log.read_text()
            assert worker.poll() is None, log.read_text()
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        time.sleep(2.2)  # the dead worker's lease expires
        second = subprocess.run(
            [*CLI, "worker", "--until-idle"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        assert "recovered after its process stopped or died" in second.stderr
        shown = json.loads(
            subprocess.run(
                [*CLI, "show", str(goal), "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert shown["goal"]["status"] == "completed", shown["goal"]
        workspace = Path(shown["goal"]["workspace"])
        assert (workspace / "log.txt").read_text() == "x\n"
        writes = [a for a in shown["actions"] if a["tool"] == "write_file"]
        assert len(writes) == 1 and writes[0]["status"] == "succeeded"
        resumed = fake.requests[3]["messages"]
        tool_replies = [m for m in resumed if m["role"] == "tool"]
        assert len(tool_replies) == 1 and json.loads(tool_replies[0]["content"])["ok"] is True
        first_call = fake.requests[2]["messages"][-2]["tool_calls"][0]["id"]
        assert tool_replies[0]["tool_call_id"] == first_call
