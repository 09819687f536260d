"""Agent overhead: executor and agent-loop time per model turn, and first frame with and without a model.

Per turn: one agent step whose scripted model answers at once (no network, no litellm) with an
``echo`` tool call, N times, then ``finish_step``. Everything but the model is real: the claim, the
stored transcript, the policy, the action, the usage row. A second figure runs the same through
litellm against a local OpenAI-compatible server, for reference. Target: ≤ 5 ms a turn.

Added latency per model call: the median of one call through agent-tui's whole model path (the
endpoint gate, retries, the context check with token counting, litellm, completeness checks)
against the scripted server, minus the median of the same streamed request sent with plain httpx:
the server's own latency, measured separately. Target: ≤ 10 ms added, median.

First frame: the real ``agent-tui`` in a pseudo-terminal, from process start until the header is on
screen, with a model configured and without (litellm must not delay it).
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import statistics
import subprocess
import sys
import time

from common import ROOT, fresh_home, parser, report

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core import llm
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.store import Store

TURNS = 200


def _recipe() -> dict:
    return {
        "title": "turns",
        "steps": [{"id": "loop", "kind": "agent", "instructions": "echo", "tools": ["echo"]}],
    }


async def _run_turns(settings: Settings) -> tuple[float, int]:
    store = Store(paths.db_path())
    add_recipe_goal(store, parse_recipe(_recipe()))
    executor = Executor(store, settings)
    start = time.perf_counter()
    await executor.start(detect_model=False)
    await executor.run_until_idle(settle=0)
    elapsed = time.perf_counter() - start
    await executor.stop()
    turns = store.one("SELECT count(*) AS n FROM usage")["n"]
    status = store.one("SELECT status FROM goals")["status"]
    assert status == "completed", status
    return elapsed, turns


def scripted_turns() -> dict:
    """The model answers instantly in-process: what is left is our overhead."""
    fresh_home()
    counter = {"n": 0}

    async def instant(choice, messages, *, tools=None, on_text=None, timeout=120.0, extra=None):
        counter["n"] += 1
        if counter["n"] >= TURNS:
            return llm.Turn(
                "",
                [llm.ToolCall(f"c{counter['n']}", "finish_step", '{"summary": "done"}')],
                10,
                5,
                None,
            )
        return llm.Turn(
            "", [llm.ToolCall(f"c{counter['n']}", "echo", '{"text": "hi"}')], 10, 5, None
        )

    llm.complete = instant  # type: ignore[assignment]
    conf = Settings(model="scripted/instant")
    conf.llm.step_iterations = TURNS + 5
    conf.llm.goal_iterations = TURNS + 5
    elapsed, turns = asyncio.run(_run_turns(conf))
    return {"turns": turns, "ms_per_turn": round(elapsed / turns * 1000, 3)}


def litellm_turns(n: int = 60) -> dict:
    """The same through litellm and HTTP to a local scripted server (includes their cost)."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_llm import FakeLLM, call

    fresh_home()
    os.environ["OPENAI_API_KEY"] = "sk-bench"
    import importlib

    importlib.reload(llm)
    import agent_tui.core.agent as agent_module

    agent_module.llm = llm
    with FakeLLM() as fake:
        fake.script(
            *[call("echo", {"text": "hi"}) for _ in range(n - 1)],
            call("finish_step", {"summary": "done"}),
        )
        conf = Settings(model="openai/bench")
        conf.llm.api_base = fake.api_base
        conf.llm.step_iterations = n + 5
        conf.llm.goal_iterations = n + 5
        llm.load_litellm()
        elapsed, turns = asyncio.run(_run_turns(conf))
    return {"turns": turns, "ms_per_turn": round(elapsed / turns * 1000, 3)}


def call_latency(n: int = 60) -> dict:
    """Median ms of a model call through agent-tui, of the bare HTTP request, and the difference."""
    sys.path.insert(0, str(ROOT))
    import httpx

    from agent_tui.core import context, model_calls
    from tests.fake_llm import FakeLLM, text

    fresh_home()
    os.environ["OPENAI_API_KEY"] = "sk-bench"
    llm.load_litellm()
    messages = [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "Say something short. " * 20},
    ]
    reply = "a short answer of a few words"

    async def measure(fake: FakeLLM) -> tuple[list[float], list[float]]:
        choice = llm.ModelChoice("openai/bench", "bench", fake.api_base)
        endpoints = model_calls.Endpoints(None)
        policy = model_calls.RetryPolicy(120.0, 1.0, 2.0)
        count = context.counter_for(choice.model, None)

        async def attempt(number: int) -> llm.Turn:
            sent, _ = context.fit(messages, 100_000, count)
            return await llm.complete(choice, sent, timeout=30)

        ours, bare = [], []
        body = {
            "model": "bench",
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        async with httpx.AsyncClient(timeout=30) as client:
            for i in range(n + 5):  # alternate, so both see the same machine
                start = time.perf_counter()
                await model_calls.call_with_retries(
                    endpoints.get(choice), attempt, policy, on_retry=lambda *a: None
                )
                took = time.perf_counter() - start
                start = time.perf_counter()
                async with client.stream(
                    "POST", fake.api_base + "/chat/completions", json=body
                ) as response:
                    async for _ in response.aiter_bytes():
                        pass
                bare_took = time.perf_counter() - start
                if i >= 5:  # warm-up: connection pools, first imports
                    ours.append(took)
                    bare.append(bare_took)
        return ours, bare

    with FakeLLM() as fake:
        fake.script(*[text(reply) for _ in range(2 * (n + 5))])
        ours, bare = asyncio.run(measure(fake))
    ours_ms = statistics.median(ours) * 1000
    bare_ms = statistics.median(bare) * 1000
    return {
        "calls": n,
        "median_ms_through_agent_tui": round(ours_ms, 3),
        "median_ms_server_alone": round(bare_ms, 3),
        "median_ms_added": round(ours_ms - bare_ms, 3),
        "target_ms_added": 10,
        "meets_target": ours_ms - bare_ms <= 10,
    }


def first_frame(env_extra: dict[str, str], runs: int = 3) -> float:
    """Median seconds from exec to the header on screen, in a real pseudo-terminal."""
    samples = []
    for _ in range(runs):
        home = fresh_home()
        env = {
            **os.environ,
            "AGENT_TUI_HOME": str(home),
            "TERM": "xterm-256color",
            "COLUMNS": "120",
            "LINES": "40",
            **env_extra,
        }
        master, slave = pty.openpty()
        os.set_blocking(master, False)
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent_tui.cli"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        seen = b""
        shown = None
        deadline = start + 30
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if b"agent-tui" in seen and b"executor" in seen:
                    shown = time.perf_counter() - start
                    break
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)
        if shown is None:
            raise RuntimeError("the first frame never appeared")
        samples.append(shown)
    return round(statistics.median(samples), 3)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--no-frames", action="store_true", help="skip the first-frame figures")
    args = p.parse_args()
    result: dict = {"benchmark": "agent_overhead"}
    frames = {}
    if not args.no_frames:
        frames = {
            "first_frame_s_no_model": first_frame({}),
            "first_frame_s_with_model": first_frame(
                {"AGENT_TUI_MODEL": "openai/gpt-4.1-mini", "OPENAI_API_KEY": "sk-bench"}
            ),
        }
    result["scripted_model"] = scripted_turns()
    result["through_litellm_http"] = litellm_turns()
    result["model_call_latency"] = call_latency()
    result.update(frames)
    result["target_ms_per_turn"] = 5
    result["meets_target"] = result["scripted_model"]["ms_per_turn"] <= 5
    report(result, args.json)


if __name__ == "__main__":
    main()
