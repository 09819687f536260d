"""Schedules and MCP start-up: how late a schedule fires after its minute when each run re-reads
and validates its recipe file, and how long ``doctor`` takes to start an MCP server and list its
tools.

Schedule lateness: the store's clock is shifted so that a cron minute comes 0.2 s after it is set;
the executor's own date trigger fires the schedule; lateness is from that minute to the
``schedule.fired`` event. Target: p99 ≤ 50 ms (the recipe read happens inside it).
"""

from __future__ import annotations

import asyncio
import sys
import time

from common import ROOT, fresh_home, parser, percentiles, report

from agent_tui.config import Settings
from agent_tui.core.executor import Executor
from agent_tui.core.goals import add_schedule
from agent_tui.core.recipes import load_recipe
from agent_tui.core.store import Event, Store

RECIPE = 'title = "bench"\n[[steps]]\nid = "say"\ntool = "echo"\nargs = { text = "hi" }\n'


class ShiftedClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def minute_in(self, lead: float) -> float:
        """Shift so the next minute is ``lead`` seconds away; return that minute."""
        now = self()
        boundary = (int(now) // 60 + 1) * 60
        self.offset += boundary - lead - now
        return boundary


async def schedule_lateness(runs: int) -> dict[str, float]:
    home = fresh_home()
    path = home / "r.toml"
    path.write_text(RECIPE, encoding="utf-8")
    clock = ShiftedClock()
    store = Store(home / "bench.db", clock=clock)
    fired: list[float] = []
    got = asyncio.Event()

    class Sink:
        def on_event(self, event: Event) -> None:
            if event.kind == "schedule.fired":
                fired.append(clock())
                got.set()

        def on_output(self, chunk: object) -> None:
            pass

    boundary = clock.minute_in(0.2)
    add_schedule(store, load_recipe(path), "* * * * *", recipe_path=path)
    executor = Executor(store, Settings(), sinks=[Sink()])  # type: ignore[list-item]
    await executor.start(detect_model=False)
    late: list[float] = []
    try:
        for i in range(runs):
            got.clear()
            await asyncio.wait_for(got.wait(), 5)
            late.append((fired[-1] - boundary) * 1000)
            await executor.run_until_idle()
            if i + 1 < runs:
                boundary = clock.minute_in(0.2)
                executor._retry_at = None  # the clock jumped: arm the timer afresh
                executor._arm_timer()
    finally:
        await executor.stop()
    return percentiles(late)


async def mcp_start(runs: int) -> dict[str, float]:
    from agent_tui.core.tools.mcp import McpManager, McpSettings

    server = str(ROOT / "tests" / "data" / "mcp_server.py")
    settings = McpSettings.model_validate(
        {"servers": {"srv": {"command": sys.executable, "args": [server]}}}
    )
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        manager = McpManager(settings)
        tools = await manager.start()
        samples.append((time.perf_counter() - start) * 1000)
        assert tools, manager.status()
        await manager.stop()
    return percentiles(samples)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    result = {
        "schedule_fire_lateness": asyncio.run(schedule_lateness(10)),
        "mcp_start_and_list_tools": asyncio.run(mcp_start(5)),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
