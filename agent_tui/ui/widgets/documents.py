"""The documents pane: one page per document of the selected goal, rendered as Markdown.

``[`` and ``]`` turn the pages; the header says which document and "page n of m". A page is
re-rendered only when its document changed (a new version), so refreshes do not flicker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from agent_tui import paths
from agent_tui.ui.away import SurvivesAway

if TYPE_CHECKING:
    from textual.widgets import Markdown
from agent_tui.core.store import Row

EMPTY = "No documents yet. Steps that use `write_document` add pages here."


class Documents(SurvivesAway, Vertical):
    """Pages of Markdown with a one-line header."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pages: Sequence[Row] = []
        self.page = 0
        self._rendered: int | None = None
        self._unseen: str | None = None
        """The page's text while the pane has not been seen: its Markdown is made when it is."""

    def compose(self) -> ComposeResult:
        yield Static("", id="document-header")
        with VerticalScroll(id="document-scroll"):
            yield Static(EMPTY.replace("`", ""), id="document-empty")

    @property
    def header_text(self) -> str:
        return str(self.query_one("#document-header", Static).content)

    def show(self, pages: Sequence[Row]) -> None:
        """Show ``pages``, staying on the same document when it is still there."""
        current = self.pages[self.page]["name"] if self.pages else None
        self.pages = pages
        names = [p["name"] for p in pages]
        if current in names:
            self.page = names.index(current)
        else:
            self.page = min(self.page, max(0, len(pages) - 1))
        self._show_page()

    @property
    def current(self) -> Row | None:
        """The document on the page shown."""
        return self.pages[self.page] if self.pages else None

    def turn(self, delta: int) -> None:
        """Go ``delta`` pages forward (or back), stopping at the first and last page."""
        if self.pages:
            self.page = max(0, min(len(self.pages) - 1, self.page + delta))
            self._show_page()

    def _markdown(self) -> Markdown | None:
        found = self.query("#document")
        if not found:
            return None
        from textual.widgets import Markdown

        return found.first(Markdown)

    def _render_page(self, text: str) -> None:
        """Show ``text`` as Markdown; the widget is created with the first page (its import and
        parser are not free, and most first frames have no document)."""
        from textual.widgets import Markdown

        markdown = self._markdown()
        if markdown is None:
            markdown = Markdown(text, id="document")
            self.query_one("#document-scroll", VerticalScroll).mount(markdown)
        else:
            markdown.update(text)
        markdown.display = True

    def on_show(self) -> None:
        """The pane came into view: make the page's Markdown now if it waited for this."""
        if self._unseen is not None:
            text, self._unseen = self._unseen, None
            self._render_page(text)

    def _show_page(self) -> None:
        header = self.query_one("#document-header", Static)
        empty = self.query_one("#document-empty", Static)
        if not self.pages:
            header.update("")
            empty.display = True
            self._rendered = self._unseen = None
            if markdown := self._markdown():
                markdown.display = False
            return
        empty.display = False
        doc = self.pages[self.page]
        version = f" (v{doc['version']})" if doc["version"] > 1 else ""
        header.update(f"page {self.page + 1} of {len(self.pages)} · {doc['name']}{version}")
        header.tooltip = f"saved {datetime.fromtimestamp(doc['created_at']):%Y-%m-%d %H:%M:%S}"
        if self._rendered != doc["id"]:
            self._rendered = doc["id"]
            text = doc["content"] if "markdown" in doc["mime"] else _as_text(doc["content"])
            if self._markdown() is None and not self.is_on_screen:
                # Behind the Approvals tab on the first frame: the Markdown widget (its import
                # and parse cost tens of milliseconds) waits until the pane is seen.
                self._unseen = text
                return
            self._unseen = None
            self._render_page(text)
            self.query_one("#document-scroll", VerticalScroll).scroll_home(animate=False)


def file_name(doc: Row) -> str:
    """A safe file name for a document: its name, slugged, with .md or .txt."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", doc["name"]).strip("-.") or f"document-{doc['id']}"
    return stem + (".md" if "markdown" in doc["mime"] else ".txt")


def export(doc: Row, folder: Path) -> Path:
    """Write ``doc`` into ``folder`` under a name not yet taken (``name-2.md``...); return it."""
    name = file_name(doc)
    target = folder / name
    stem, dot, ext = name.rpartition(".")
    number = 2
    while target.exists():
        target = folder / f"{stem}-{number}{dot}{ext}"
        number += 1
    paths.write_atomic(target, doc["content"])
    return target


def _as_text(content: str) -> str:
    """Plain text shown verbatim inside a fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{content}\n{fence}"
