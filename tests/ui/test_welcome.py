"""The first-run welcome: shown while there are no goals; a digit starts an example recipe."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.screens.welcome import WelcomeScreen, find_examples
from agent_tui.ui.widgets.goal_list import GoalList
from tests.conftest import ROOT
from tests.ui.conftest import SIZE, add_file_goal, goal_status, shell_recipe, wait_until


async def test_a_digit_starts_an_example(store: Store, settings: Settings) -> None:
    names = [e.path.name for e in find_examples()]
    assert names == sorted(p.name for p in (ROOT / "examples").glob("*.toml"))
    number = names.index("workspace-notes.toml") + 1
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, WelcomeScreen)
        model = app.screen.query_one("#model", Static)
        await wait_until(pilot, lambda: "none" in str(model.content), "the model check")
        assert "AGENT_TUI_MODEL" in str(model.content)

        await pilot.press(str(number))
        assert app.screen is app.main
        row = store.one("SELECT id FROM goals WHERE title = 'Workspace notes'")
        assert row is not None
        assert app.main.query_one(GoalList).goal_id == row["id"]
        await wait_until(pilot, lambda: goal_status(store, row["id"]) == "completed", "the run")


async def test_no_welcome_once_there_are_goals(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    add_file_goal(store, shell_recipe(tmp_path / "t.toml", "true"))
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE):
        assert app.screen is app.main


async def test_missing_examples_say_where_they_would_be(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        welcome = WelcomeScreen(store, settings, examples_dir=tmp_path / "nowhere")
        await app.push_screen(welcome)
        heading = str(welcome.query_one("#welcome-examples-heading", Static).content)
        assert f"none found in {tmp_path / 'nowhere'}/" in heading
        await pilot.press("1")
        assert app.screen is welcome
        assert store.one("SELECT count(*) AS n FROM goals") == {"n": 0}


async def test_the_welcome_asks_a_model_server_whether_it_answers(
    store: Store, settings: Settings
) -> None:
    import http.server
    import socket
    import threading

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"data": [{"id": "tiny"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    try:
        for base, expected in (
            (f"http://127.0.0.1:{server.server_address[1]}/v1", "answered (HTTP 200)"),
            (f"http://127.0.0.1:{closed}/v1", "no answer from"),
        ):
            settings.model = "openai/tiny"
            settings.llm.api_base = base
            app = create_app(store, settings, executor=False)
            async with app.run_test(size=SIZE) as pilot:
                model = app.screen.query_one("#model", Static)
                await wait_until(pilot, lambda m=model, e=expected: e in str(m.content), expected)
    finally:
        server.shutdown()
        server.server_close()
