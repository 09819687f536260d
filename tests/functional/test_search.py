"""Full-text search over goals, outputs and documents: the real executor, the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.core.store.search import SearchError, fts_query, refresh, search
from tests.conftest import CLI, cli_env
from tests.helpers import add, echo, run_idle


def _notes(store: Store, word: str) -> int:
    return add(
        store,
        {
            "title": f"Notes about {word}",
            "steps": [
                echo("say", f"the {word} output line"),
                {
                    "id": "doc",
                    "tool": "write_document",
                    "depends_on": ["say"],
                    "args": {"name": "Summary", "content": "# Summary\n\n{{ steps.say.output }}"},
                },
            ],
        },
    )


async def test_search_finds_goals_outputs_and_documents_newest_first(
    store: Store, settings: Settings
) -> None:
    first = _notes(store, "pelican")
    await run_idle(store, settings)
    hits = search(store, "pelican")
    assert {h.kind for h in hits} == {"goal", "output", "document"}
    assert all(h.goal_id == first for h in hits)
    [doc] = [h for h in hits if h.kind == "document"]
    assert "[pelican]" in doc.snippet and doc.title == "Summary"
    assert search(store, "pel") == hits  # the last word is a prefix

    second = _notes(store, "pelicans")
    await run_idle(store, settings)
    again = search(store, "pelican")
    assert again[0].goal_id == second  # the new rows were indexed, and come first
    assert [h.goal_id for h in search(store, "pelican", kinds=("goal",))] == [second, first]
    assert refresh(store) == 0  # nothing new: nothing indexed twice


def test_queries_are_words_never_fts_syntax(store: Store) -> None:
    assert fts_query('make -k "test" OR') == '"make" "k" "test" "OR"*'
    with pytest.raises(SearchError, match="give a word"):
        search(store, '" - :')
    assert search(store, "NEAR(x") == []


async def test_search_from_the_cli(store: Store, settings: Settings, home: Path) -> None:
    goal = _notes(store, "kestrel")
    await run_idle(store, settings)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "search", *args], env=cli_env(home), capture_output=True, text=True, timeout=60
        )

    hits = json.loads(cli("kestrel", "--json").stdout)
    assert {h["kind"] for h in hits} == {"goal", "output", "document"}
    assert all(h["goal_id"] == goal for h in hits)
    text = cli("kestrel", "--kind", "output").stdout
    assert f"output   goal {goal} 'Notes about kestrel'  say  (action" in text
    assert "the [kestrel] output line" in text
    assert cli("zebra").stdout.strip() == "nothing matches 'zebra'"
    bad = cli("--", "-")
    assert bad.returncode == 2 and bad.stderr.startswith("agent-tui: error: nothing to search")
