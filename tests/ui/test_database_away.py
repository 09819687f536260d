"""The TUI as a viewer of a PostgreSQL database whose server goes away and comes back: it says so
in the header, keeps answering keys (no read waits for the server), and once the server is back
shows what happened meanwhile. A real server, stopped and started again."""

from __future__ import annotations

from typing import Any

import pytest

from agent_tui.config import Settings
from agent_tui.core.store.postgres import PgStore
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.goal_list import GoalList
from agent_tui.ui.widgets.status_line import StatusLine
from tests.helpers import add, echo
from tests.ui.conftest import SIZE, wait_until

AWAY = "the database server is away"


@pytest.mark.timeout(180)
async def test_a_server_that_goes_away_is_said_and_survived(
    pg_cluster: Any, settings: Settings
) -> None:
    url = pg_cluster.database()
    settings.store.url = url
    store = PgStore(url)
    writer = PgStore(url)
    add(writer, {"title": "before", "steps": [echo("s", "x")]})
    app = create_app(store, settings, executor=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            goals = app.main.query_one(GoalList)
            header = app.main.query_one(StatusLine)
            await wait_until(pilot, lambda: len(goals.rows) == 1, "the first goal")
            pg_cluster.stop("immediate")
            try:
                await wait_until(pilot, lambda: AWAY in str(header.content), "the header", 20)
                for key in ("down", "up", "tab", "tab", "question_mark", "escape"):
                    await pilot.press(key)  # every key is answered; none ends the app
                assert app.is_running and app.return_code is None
            finally:
                pg_cluster.start()
            await wait_until(pilot, lambda: AWAY not in str(header.content), "the server back", 30)
            add(writer.reopen(), {"title": "after", "steps": [echo("s", "y")]})
            await wait_until(pilot, lambda: len(goals.rows) == 2, "the goal added meanwhile", 30)
    finally:
        store.close()
        writer.close()
