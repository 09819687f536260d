"""Make the README's screenshots (SVG) from the real app over a demo database.

    .venv/bin/python screenshots/make.py            # writes screenshots/*.svg

The app is built by ``create_app`` exactly as ``agent-tui`` builds it, as a viewer over the demo
database of the snapshot tests (real runs of small recipes, times pinned), so the pictures are
what a user sees, never drawn by hand, and the same on every run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from textual.pilot import Pilot  # noqa: E402

from agent_tui.config import Settings  # noqa: E402
from agent_tui.core import llm  # noqa: E402
from agent_tui.ui.app import AgentTuiApp, create_app  # noqa: E402
from agent_tui.ui.widgets.goal_list import GoalList  # noqa: E402
from agent_tui.ui.widgets.step_timeline import StepTimeline  # noqa: E402
from tests.ui.demo import add_usage, build_demo, fixed_store  # noqa: E402

OUT = ROOT / "screenshots"
WIDE = (130, 38)
Steps = Callable[[AgentTuiApp, Pilot[Any]], Awaitable[None]]


def stable(svg: str, name: str) -> str:
    """Rich names the SVG's classes with a random number; a fixed one keeps diffs quiet."""
    return re.sub(r"\bterminal-\d+-", f"terminal-{name}-", svg)


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def goal(title: str, step: int | None = None, keys: tuple[str, ...] = ()) -> Steps:
    async def steps(app: AgentTuiApp, pilot: Pilot[Any]) -> None:
        row = app.store.one("SELECT id FROM goals WHERE title = ?", (title,))
        assert row is not None
        app.main.query_one(GoalList).select_goal(row["id"])
        await settle(pilot)
        if step is not None:
            app.main.query_one(StepTimeline).move_cursor(row=step)
            await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return steps


SHOTS: list[tuple[str, tuple[int, int], str | None, Steps]] = [
    ("main", WIDE, None, goal("Nightly build", step=1)),
    ("approval", WIDE, None, goal("Tune the web server", keys=("enter",))),
    ("document", WIDE, None, goal("Release notes", keys=("right_square_bracket",))),
    ("failed", WIDE, None, goal("Disk check", step=0)),
    ("light", WIDE, "agent-tui-light", goal("Nightly build", step=1)),
    ("small", (80, 24), None, goal("Tune the web server", keys=("a",))),
    ("timeline", WIDE, None, goal("Nightly build", keys=("g",))),
    ("timeline-approval", WIDE, None, goal("Tune the web server", keys=("g",))),
    ("usage", WIDE, None, goal("Nightly build", keys=("dollar_sign",))),
]


async def shoot(
    db: Path, name: str, size: tuple[int, int], theme: str | None, steps: Steps
) -> Path:
    store = fixed_store(db)
    try:
        settings = Settings()
        settings.budget.daily_usd = 0.05  # the usage view shows today against it
        app = create_app(store, settings, executor=False)
        app.animation_level = "none"
        async with app.run_test(size=size) as pilot:
            if theme:
                app.theme = theme
            await settle(pilot)
            if name == "approval":
                app.main.query_one("#approval-list").focus()
            if name == "usage":
                add_usage(store)
            await steps(app, pilot)
            path = OUT / f"{name}.svg"
            svg = app.export_screenshot(title=f"agent-tui · {name}")
            path.write_text(stable(svg, name), encoding="utf-8")
        return path
    finally:
        store.close()


CLEANUP = (
    "sed -i 's/DEBUG = True/DEBUG = False/' settings.py && echo 'LOG_LEVEL = \"info\"' >> settings.py"
    " && rm -r build && mkdir -p docs && printf '# Notes\\n\\nTidied up.\\n' > docs/NOTES.md"
)


async def changes(home: Path) -> Path:
    """A shell step's changes to its workspace, as the timeline and the output pane show them."""
    from agent_tui.core.executor import Executor
    from agent_tui.core.goals import add_recipe_goal
    from agent_tui.core.recipes import parse_recipe

    ws = home / "project"
    (ws / "build").mkdir(parents=True)
    (ws / "build" / "app.bin").write_bytes(bytes(range(256)) * 8)
    (ws / "settings.py").write_text("DEBUG = True\nNAME = 'shop'\n")
    store = fixed_store(home / "changes.db")
    try:
        settings = Settings()
        settings.policy.tools = {"shell": "allow"}
        recipe = {
            "title": "Tidy the project",
            "workspace": str(ws),
            "steps": [{"id": "tidy", "tool": "shell", "args": {"command": CLEANUP}}],
        }
        add_recipe_goal(store, parse_recipe(recipe))
        executor = Executor(store, settings, kind="demo")
        await executor.start(detect_model=False)
        try:
            await executor.run_until_idle()
        finally:
            await executor.stop()
        app = create_app(store, Settings(), executor=False)
        app.animation_level = "none"
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            await goal("Tidy the project", step=0)(app, pilot)
            path = OUT / "changes.svg"
            svg = app.export_screenshot(title="agent-tui · changes")
            path.write_text(stable(svg, "changes"), encoding="utf-8")
        return path
    finally:
        store.close()


async def welcome(home: Path) -> Path:
    """The first run of a new user: default paths under a scratch $HOME, shown as ``~/...``."""
    os.environ["HOME"] = str(home / "you")
    for name in ("AGENT_TUI_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        os.environ.pop(name, None)
    from agent_tui import paths

    store = fixed_store(paths.db_path())
    try:
        app = create_app(store, Settings(), executor=False)
        app.animation_level = "none"
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            path = OUT / "welcome.svg"
            svg = app.export_screenshot(title="agent-tui · welcome")
            path.write_text(stable(svg, "welcome"), encoding="utf-8")
        return path
    finally:
        store.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="agent-tui-shots-") as scratch:
        return make(Path(scratch))


def make(home: Path) -> int:
    """Every screenshot, with ``home`` as the scratch data directory (removed afterwards)."""
    os.environ["AGENT_TUI_HOME"] = str(home)
    for name in list(os.environ):
        if name.endswith("_API_KEY") or (
            name.startswith("AGENT_TUI_") and name != "AGENT_TUI_HOME"
        ):
            del os.environ[name]
    llm._ollama_model = lambda timeout=0.3: None  # type: ignore[assignment]
    os.chdir(ROOT)
    db = home / "data" / "agent-tui.db"
    build_demo(db)
    for name, size, theme, steps in SHOTS:
        print(asyncio.run(shoot(db, name, size, theme, steps)).relative_to(ROOT))
    print(asyncio.run(changes(home)).relative_to(ROOT))
    print(asyncio.run(welcome(home)).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
