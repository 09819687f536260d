"""The goal list: filter, sort, cost per goal, and 100,000 goals that open and scroll."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.core.store.panes import GoalRow, goal_rows
from agent_tui.ui.app import create_app
from agent_tui.ui.widgets.goal_list import GoalList, cost_text, matches, narrows
from agent_tui.ui.widgets.goal_pane import GoalPane
from tests.ui.conftest import SIZE, add_file_goal, shell_recipe
from tests.ui.demo import bulk_goals


def _usage(store: Store, goal_id: int, *costs: float | None) -> None:
    with store.write() as tx:
        for cost in costs:
            tx.execute(
                "INSERT INTO usage (ts, goal_id, model, prompt_tokens, completion_tokens, cost)"
                " VALUES (?, ?, 'm', 10, 5, ?)",
                (tx.now, goal_id, cost),
            )


def test_cost_is_dash_question_mark_or_dollars(store: Store, tmp_path: Path) -> None:
    ids = [add_file_goal(store, shell_recipe(tmp_path / f"{n}.toml", "true")) for n in range(3)]
    _usage(store, ids[1], 0.25, 0.17)
    _usage(store, ids[2], 0.25, None)
    rows = {r.id: r for r in goal_rows(store)}
    assert [cost_text(rows[i]) for i in ids] == ["-", "$0.42", "?"]
    partial = {r.id: r for r in goal_rows(store, ids)}
    assert partial == rows


async def test_filter_and_sort(store: Store, settings: Settings, tmp_path: Path) -> None:
    titles = ["Deploy web", "Backup db", "Deploy api"]
    for n, title in enumerate(titles):
        path = shell_recipe(tmp_path / f"{n}.toml", "true", title=title)
        path.write_text(path.read_text().replace("\n\n", f"\npriority = {n + 3}\n\n", 1))
        add_file_goal(store, path)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        goals = app.main.query_one(GoalList)
        pane = app.main.query_one(GoalPane)
        assert [goals.rows[i].title for i in goals.order] == [
            "Deploy api",
            "Backup db",
            "Deploy web",
        ]

        await pilot.press("slash", *"deploy")
        assert [goals.rows[i].title for i in goals.order] == ["Deploy api", "Deploy web"]
        assert pane.border_subtitle == "2 of 3 · by priority"
        await pilot.press("enter")
        assert goals.has_focus

        await pilot.press("o")
        assert goals.sort == "newest"
        assert [goals.rows[i].title for i in goals.order] == ["Deploy api", "Deploy web"]
        await pilot.press("slash", "escape")
        assert goals.filter == ""
        assert [goals.rows[i].title for i in goals.order] == [
            "Deploy api",
            "Backup db",
            "Deploy web",
        ]


@pytest.mark.sqlite_only
async def test_a_hundred_thousand_goals_open_and_scroll(store: Store, settings: Settings) -> None:
    bulk_goals(store, 100_000)
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        goals = app.main.query_one(GoalList)
        assert len(goals.order) == 100_000
        await pilot.press("end")
        assert goals.cursor == 99_999
        assert goals.scroll_offset.y > 99_000
        await pilot.press("pageup", "up", "home")
        assert goals.cursor == 0


def _row(goal_id: int, title: str, status: str, wait_reason: str | None = None) -> GoalRow:
    return GoalRow(
        id=goal_id,
        title=title,
        status=status,
        wait_reason=wait_reason,
        status_message=None,
        priority=5,
        dry_run=0,
        source="recipe",
        created_at=0.0,
        started_at=None,
        steps_total=0,
        steps_done=0,
        model_calls=0,
        costs_known=0,
        cost=0.0,
    )


def test_the_filter_takes_status_prefixes_ids_and_loose_titles() -> None:
    rows = [
        _row(1, "Weekly report", "failed"),
        _row(2, "Clean backups", "waiting", "approval"),
        _row(12, "Weekly report", "completed"),
    ]

    def found(text: str) -> list[int]:
        return [r.id for r in rows if matches(text, r)]

    assert found("fail") == [1]  # a status prefix, not only the whole word
    assert found("comp") == [12]
    assert found("appr") == [2]  # the waiting reason
    assert found("#12") == [12] and found("12") == [12] and found("#1") == [1]
    assert found("wkly rep") == [1, 12]  # a title's letters in order
    assert found("report fail") == [1]  # every word must match
    assert found("zebra") == []


async def test_the_list_shows_ids_and_the_whole_empty_hint(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:  # the goals pane is 30 cells wide
        await pilot.press("escape")  # the welcome
        goals = app.main.query_one(GoalList)
        await pilot.pause()
        shown = " ".join(goals.render_line(y).text.strip() for y in range(3))
        assert "No goals yet: press n to add one." in shown
        for title in ("Same title", "Same title"):
            add_file_goal(store, shell_recipe(tmp_path / "s.toml", "true", title=title))
        goals.show(goal_rows(store))
        await pilot.pause()
        lines = [goals.render_line(y).text for y in range(2)]
        assert [line.split()[1] for line in lines] == ["#1", "#2"]


ALPHABET = "abcxyz 12#"


@hypothesis_settings(max_examples=300, deadline=None)
@example(titles=["axbxc"], old="ab", typed="c")  # a 3-letter word matches by letters in order
@example(titles=["xyz"], old="xyz", typed=" a")  # a new word is no narrowing of the old ones
@given(
    titles=st.lists(st.text(alphabet="abcxyz 12", max_size=12), min_size=1, max_size=25),
    old=st.text(alphabet=ALPHABET, max_size=6),
    typed=st.text(alphabet=ALPHABET, min_size=1, max_size=3),
)
def test_narrowing_the_filter_finds_exactly_what_a_full_pass_finds(
    titles: list[str], old: str, typed: str
) -> None:
    # The list filters only the previous matches when the new filter narrows the old one
    # (typing on): that must never lose a goal a full pass over every goal would show.
    statuses = ["running", "failed", "waiting", "completed"]
    rows = [_row(i, t, statuses[i % 4]) for i, t in enumerate(titles, 1)]
    new = old + typed
    if not narrows(old, new):
        return
    before = [r for r in rows if matches(old, r)]
    assert [r.id for r in before if matches(new, r)] == [r.id for r in rows if matches(new, r)]


def test_a_longer_number_is_never_a_narrowing() -> None:
    # "100" shows goal 100; "1001" shows goal 1001, which "100" did not (ids, not titles).
    rows = [_row(100, "x", "running"), _row(1001, "y", "running")]
    assert [r.id for r in rows if matches("1001", r)] == [1001]
    assert [r.id for r in rows if matches("100", r)] == [100]
    assert not narrows("100", "1001")
    assert not narrows("#100", "#1001")
    assert narrows("rep", "repo")
