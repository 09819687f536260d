"""Whatever a model replies, the executor never crashes and every goal ends in a clear state."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_text_goal
from agent_tui.core.store import Store
from tests.fake_llm import FakeLLM, Reply

CANARY = Path(tempfile.mkdtemp(prefix="agent-tui-fuzz-canary-"))
"""A directory outside every workspace: no reply may make a tool write here."""
ESCAPES = [
    "../escape.txt",
    "../../escape.txt",
    "../../../escape.txt",
    "../../../../escape.txt",
    "sub/../../escape.txt",
    str(CANARY / "escape.txt"),
]
"""Paths that leave the workspace (the workspace is ``<home>/data/workspaces/<id>/``, so the
relative ones land in the test's own temporary directory if a tool follows them)."""

NAMES = st.sampled_from(
    [
        "read_file",
        "write_file",
        "list_files",
        "finish_step",
        "fail_step",
        "shell",
        "",
        "no_such_tool",
        "read_file; rm -rf /",
        "é" * 300,
    ]
)
JSONISH = st.one_of(
    st.text(max_size=200),  # broken JSON
    st.dictionaries(
        st.text(max_size=20),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=50), st.lists(st.integers(), max_size=3)
        ),
        max_size=4,
    ).map(json.dumps),
    st.just(json.dumps({"path": "a" * 5000, "content": "x" * 100_000})),  # huge arguments
    st.just(json.dumps({"path": "../../etc/passwd"})),
    st.sampled_from(ESCAPES).map(lambda p: json.dumps({"path": p, "content": "escaped"})),
    st.just(json.dumps({"path": "notes.txt", "content": 42})),  # wrong type
    st.just("[1, 2, 3]"),
)
CALL = st.tuples(NAMES, JSONISH)
REPLY = st.one_of(
    st.text(max_size=300).map(lambda t: Reply(content=t)),
    st.lists(CALL, min_size=1, max_size=3).map(lambda calls: Reply(tool_calls=list(calls))),
    st.builds(
        Reply, status=st.sampled_from([400, 429, 500, 503]), headers=st.just({"retry-after": "0"})
    ),
)
PLAN = Reply(
    content=json.dumps(
        {
            "steps": [
                {
                    "id": "a",
                    "title": "A",
                    "instructions": "do it",
                    "tools": ["read_file", "write_file", "list_files"],
                }
            ]
        }
    )
)


async def _run(replies: list[Reply], api_base: str) -> tuple[Store, Executor, int]:
    home = Path(tempfile.mkdtemp(prefix="fuzz-"))
    store = Store(home / "db.sqlite")
    conf = Settings(model="openai/fuzz")
    conf.llm.api_base = api_base
    conf.llm.timeout = 5
    conf.llm.step_iterations = 4
    conf.llm.max_replans = 0
    conf.retry.base_delay = 0.01
    conf.retry.max_attempts = 2
    conf.llm.retry_window = 0.2
    executor = Executor(store, conf, output_dir=home / "outputs")
    goal = add_text_goal(store, "fuzz", budget={"max_iterations": 12})
    await executor.start(detect_model=False)
    await asyncio.wait_for(executor.run_until_idle(), 60)
    await executor.stop()
    return store, executor, goal


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(replies=st.lists(REPLY, min_size=1, max_size=5))
@example(  # always tried: one reply that names every escape at once
    replies=[
        Reply(
            tool_calls=[
                ("write_file", json.dumps({"path": p, "content": "escaped"})) for p in ESCAPES
            ]
        )
    ]
)
def test_arbitrary_model_output_ends_in_a_clear_state(
    replies: list[Reply], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fuzz")
    with FakeLLM() as fake:
        fake.script(PLAN, *replies)
        store, executor, goal = asyncio.run(_run(replies, fake.api_base))
    assert executor.errors == 0
    row = store.one("SELECT * FROM goals WHERE id = ?", (goal,))
    assert row["status"] in ("completed", "failed", "waiting"), row
    if row["status"] != "completed":
        assert row["status_message"], row
    if row["status"] == "waiting":
        assert row["wait_reason"] in (
            "model",
            "model unreachable",
            "budget",
            "approval",
        ), row
    running = store.one("SELECT count(*) AS n FROM steps WHERE status = 'running'")
    assert running["n"] == 0
    # Nothing was written outside the workspace, whatever path the model named.
    assert Path(row["workspace"]).is_relative_to(tmp_path)
    assert not list(tmp_path.rglob("escape.txt")), list(tmp_path.rglob("escape.txt"))
    assert not (CANARY / "escape.txt").exists()
