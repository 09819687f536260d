"""Documents: one page per document of the selected goal, turned with [ and ]."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Markdown, TabbedContent

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.documents import Documents
from tests.ui.conftest import SIZE, add_file_goal, wait_until

TWO_DOCUMENTS = """\
title = "Two documents"

[[steps]]
id = "first"
tool = "write_document"
args = { name = "Alpha", content = "# Alpha page\\n\\nfirst body" }

[[steps]]
id = "second"
tool = "write_document"
depends_on = ["first"]
args = { name = "Beta", content = "# Beta page\\n\\nsecond body" }
"""


async def test_brackets_turn_the_pages(store: Store, settings: Settings, tmp_path: Path) -> None:
    recipe = tmp_path / "docs.toml"
    recipe.write_text(TWO_DOCUMENTS, encoding="utf-8")
    add_file_goal(store, recipe)
    app = create_app(store, settings, executor=True)
    async with app.run_test(size=SIZE) as pilot:
        docs = app.main.query_one(Documents)
        tabs = app.main.query_one(TabbedContent)
        await wait_until(pilot, lambda: len(docs.pages) == 2, "both documents")
        assert str(tabs.get_tab("documents-tab").label) == "Documents 2"
        # Behind the Approvals tab the page is not rendered: its Markdown is made when seen.
        assert not app.main.query("#document")

        await pilot.press("right_square_bracket")
        assert tabs.active == "documents-tab"
        await wait_until(pilot, lambda: bool(app.main.query("#document")), "the page rendered")
        markdown = app.main.query_one("#document", Markdown)
        assert docs.header_text.startswith("page 1 of 2 · Alpha")
        assert "first body" in markdown.source

        await pilot.press("right_square_bracket")
        assert docs.header_text.startswith("page 2 of 2 · Beta")
        assert "second body" in markdown.source

        await pilot.press("right_square_bracket")
        assert docs.header_text.startswith("page 2 of 2")

        await pilot.press("left_square_bracket")
        assert docs.header_text.startswith("page 1 of 2 · Alpha")
        assert "first body" in markdown.source
