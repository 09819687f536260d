"""Sandbox: what bubblewrap adds to a command's start, and to a 100-step recipe.

1. ``true`` through the shell tool, sandboxed and not, 200 times each (interleaved, so load
   affects both alike): the added p50 and p99. Target: p50 at most 15 ms added.
2. A recipe of 100 ``true`` shell steps (allowed by config) run by one executor, sandboxed and
   not: wall time and the time added per step.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from common import fresh_home, parser, percentiles, report

from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.sandbox import sandbox_status
from agent_tui.core.store import Store
from agent_tui.core.tools.base import ToolContext
from agent_tui.core.tools.shell import ShellTool


def _settings(mode: str) -> Settings:
    settings = Settings()
    settings.sandbox.mode = mode  # type: ignore[assignment]
    settings.policy.tools["shell"] = "allow"
    return settings


async def one_command(workspace: Path, runs: int) -> dict[str, object]:
    tool = ShellTool()
    args = tool.parse({"command": "true"})
    samples: dict[str, list[float]] = {"auto": [], "off": []}
    for _ in range(runs):
        for mode in ("auto", "off"):
            ctx = ToolContext(
                workspace=workspace,
                emit=lambda stream, text: None,
                goal_id=1,
                step_id=1,
                action_id=1,
                cancelled=asyncio.Event(),
                settings=_settings(mode),
            )
            started = time.perf_counter()
            result = await tool.run(args, ctx)
            samples[mode].append((time.perf_counter() - started) * 1000)
            assert result.ok, result.error
    boxed, plain = percentiles(samples["auto"]), percentiles(samples["off"])
    return {
        "sandboxed": boxed,
        "unsandboxed": plain,
        "added_p50_ms": round(boxed["p50_ms"] - plain["p50_ms"], 3),
        "added_p99_ms": round(boxed["p99_ms"] - plain["p99_ms"], 3),
    }


async def recipe(home: Path, mode: str, steps: int, run: int) -> float:
    store = Store(home / f"{mode}-{run}.db")
    spec = {
        "title": f"{steps} steps",
        "max_parallel": 4,
        "steps": [
            {"id": f"s{i}", "tool": "shell", "args": {"command": "true"}} for i in range(steps)
        ],
    }
    add_recipe_goal(store, parse_recipe(spec))
    executor = Executor(store, _settings(mode))
    started = time.perf_counter()
    await executor.start(detect_model=False)
    try:
        await executor.run_until_idle()
    finally:
        await executor.stop()
    elapsed = time.perf_counter() - started
    done = store.one("SELECT count(*) AS n FROM steps WHERE status = 'completed'")
    assert done is not None and done["n"] == steps, done
    store.close()
    return elapsed


async def main() -> None:
    args = parser(__doc__ or "").parse_args()
    home = fresh_home()
    status = sandbox_status("auto")
    if not status.active:
        report({"error": f"no sandbox here: {status.detail}"}, args.json)
        raise SystemExit(1)
    workspace = home / "ws"
    workspace.mkdir()
    single = await one_command(workspace, 200)
    walls = {
        mode: [await recipe(home, mode, 100, run) for run in range(3)] for mode in ("auto", "off")
    }
    boxed, plain = statistics.median(walls["auto"]), statistics.median(walls["off"])
    report(
        {
            "bubblewrap": status.detail,
            "true_command": single,
            "recipe_100_steps": {
                "sandboxed_s": round(boxed, 3),
                "unsandboxed_s": round(plain, 3),
                "added_per_step_ms": round((boxed - plain) * 1000 / 100, 3),
            },
            "target_added_p50_ms": 15,
        },
        args.json,
    )


if __name__ == "__main__":
    asyncio.run(main())
