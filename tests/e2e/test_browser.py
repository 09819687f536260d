"""The app in headless Chromium against ``agent-tui serve``: refused without the token; with it, an
approval is decided from the keyboard and the command runs (checked in the database).

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright for Python with that executable;
Playwright's own browser download is never used. The terminal is drawn on a canvas, so the test
reads what the app sent to the page's websocket and keeps a screenshot beside the test's files.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, cli_env
from tests.e2e.serving import serving, wait_until
from tests.helpers import the_store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ANSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python")

from agent_tui.ui.widgets.approvals import EMPTY  # noqa: E402  (after the skips)


class Screen:
    """What the app sent to the page: the raw bytes of every websocket frame, searchable as text."""

    def __init__(self) -> None:
        self.raw = bytearray()

    def on_websocket(self, ws: Any) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload: bytes | str) -> None:
        self.raw += payload if isinstance(payload, bytes) else payload.encode()

    @property
    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.raw)).decode("utf-8", "replace")

    def shows(self, words: str) -> bool:
        return words in self.text


def _one(home: Path, sql: str, *params: Any) -> Any:
    """One row of the test's database, read on a connection of its own."""
    store = the_store(home)
    try:
        return store.one(sql, params)
    finally:
        store.close()


def test_an_approval_is_decided_in_the_browser(home: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "browser.toml"
    recipe.write_text(
        'title = "Browser approval"\n[[steps]]\nid = "touch"\ntool = "shell"\n'
        'args = { command = "echo browser-marker && touch canary" }\n'
    )
    subprocess.run(
        [*CLI, "add", "--recipe", str(recipe)],
        env=cli_env(home),
        capture_output=True,
        timeout=60,
        check=True,
    )
    with serving(home) as served:
        wait_until(
            lambda: _one(home, "SELECT id FROM approvals WHERE status = 'pending'"),
            what="serve's executor to ask for approval",
        )
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 800})
                page.route("https://**/*", lambda route: route.abort())  # web fonts: no network

                refused = page.goto(f"{served.base}/")
                assert refused is not None and refused.status == 403
                assert "access token" in page.inner_text("body")

                screen = Screen()
                page.on("websocket", screen.on_websocket)
                loaded = page.goto(served.url)
                assert loaded is not None and loaded.status == 200
                try:
                    _wait(page, lambda: screen.shows("agent-tui"), "the app's header")
                    _wait(page, lambda: screen.shows("browser-marker"), "the approval")
                    page.focus(".xterm-helper-textarea")
                    page.keyboard.press("a")
                    _wait(
                        page,
                        lambda: _status(home) == ("approved", "succeeded", "completed"),
                        "the approved command to run",
                    )
                    _wait(page, lambda: screen.shows(EMPTY), "the queue to empty on the page")
                finally:
                    page.screenshot(path=str(tmp_path / "browser.png"))
            finally:
                browser.close()
    workspace = _one(home, "SELECT workspace FROM goals")
    assert workspace is not None and (Path(workspace["workspace"]) / "canary").exists()
    action = _one(home, "SELECT exit_code, decision FROM actions")
    assert action is not None and action["exit_code"] == 0 and action["decision"] == "ask"
    approval = _one(home, "SELECT decided_by FROM approvals")
    assert approval is not None and approval["decided_by"]


def _wait(page: Any, predicate: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Poll while Playwright runs (its events are only delivered inside its own calls)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)


def _status(home: Path) -> tuple[str, str, str] | None:
    row = _one(
        home,
        "SELECT ap.status AS approval, ac.status AS action, g.status AS goal FROM approvals ap"
        " JOIN actions ac ON ac.id = ap.action_id JOIN goals g ON g.id = ap.goal_id",
    )
    return (row["approval"], row["action"], row["goal"]) if row else None
