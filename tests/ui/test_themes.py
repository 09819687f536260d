"""Themes: the built-in pair, the repository's examples, user files, and one toast for broken ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.store import Store
from agent_tui.ui import themes
from agent_tui.ui.app import THEME_SETTING, create_app
from tests.conftest import ROOT
from tests.ui.conftest import SIZE


def test_the_repository_examples_load() -> None:
    loaded = themes.load_user_themes(ROOT / "themes")
    assert not loaded.problems
    assert {t.name for t in loaded.themes} == {"harbour-night", "paper"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("primary = [", "not valid TOML"),
        ('primary = "#00f"\ncolour = "red"', "unknown key 'colour'"),
        ("dark = true", "primary is missing"),
        ('primary = "not-a-colour"', "primary = 'not-a-colour' is not a colour"),
        ('primary = "#00f"\ndark = "yes"', "dark must be true or false"),
        ('primary = "#00f"\n[variables]\nborder = 3', "[variables] must map names to strings"),
    ],
)
def test_a_broken_file_names_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    loaded = themes.load_user_themes(tmp_path)
    assert loaded.themes == []
    assert len(loaded.problems) == 1
    assert loaded.problems[0].startswith(f"{path}: {problem}")
    assert loaded.message.startswith("a theme file was skipped; using the default theme:")


def test_tcss_files_use_theme_variables_only() -> None:
    for tcss in (ROOT / "agent_tui" / "ui").rglob("*.tcss"):
        text = tcss.read_text(encoding="utf-8")
        assert not re.search(r"#[0-9a-fA-F]{3,8}\b", text), f"{tcss} has a hex colour"


async def test_broken_theme_gives_one_toast_and_the_default(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = paths.ensure_dir(paths.themes_dir())
    (folder / "a-broken.toml").write_text("primary = [", encoding="utf-8")
    (folder / "b-broken.toml").write_text('primary = "nope"', encoding="utf-8")
    (folder / "good.toml").write_text('primary = "#336699"\ndark = false', encoding="utf-8")
    store.set_setting(THEME_SETTING, "a-broken")
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == themes.DEFAULT_THEME
        assert "good" in app.available_themes
        messages = [n.message for n in app._notifications]
        assert len(messages) == 1, messages
        assert "a-broken.toml: not valid TOML" in messages[0]
        assert "b-broken.toml: primary = 'nope' is not a colour" in messages[0]


async def test_the_chosen_theme_is_remembered(store: Store, settings: Settings) -> None:
    app = create_app(store, settings, executor=False)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = themes.LIGHT.name
        await pilot.pause()
    assert store.setting(THEME_SETTING) == themes.LIGHT.name
    again = create_app(store, settings, executor=False)
    async with again.run_test(size=SIZE):
        assert again.theme == themes.LIGHT.name
