"""Themes: two built-in ones and the user's, loaded from TOML files in the themes folder.

A theme file holds the fields of a Textual :class:`~textual.theme.Theme` (``primary`` is the only
required colour) and an optional ``[variables]`` table; its name defaults to the file's stem.
Loading never fails: broken files are skipped and reported together as one message, so the app
shows one toast and keeps the default theme.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

DARK = Theme(
    name="agent-tui-dark",
    primary="#4A9EDB",
    secondary="#7E6BC4",
    accent="#E8A23A",
    warning="#E8A23A",
    error="#E0606E",
    success="#5DBB78",
    foreground="#D8DEE9",
    background="#15181E",
    surface="#1C2029",
    panel="#252B36",
    dark=True,
    variables={
        "border-blurred": "#3A4252",
        "scrollbar-background": "#1C2029",
        "scrollbar-background-hover": "#1C2029",
        "scrollbar-background-active": "#1C2029",
        "scrollbar": "#3A4252",
        "scrollbar-corner-color": "#1C2029",
    },
)
LIGHT = Theme(
    name="agent-tui-light",
    primary="#1F6FB2",
    secondary="#6A4FB8",
    accent="#B86A00",
    warning="#A65F00",
    error="#B3263A",
    success="#2C7A3F",
    foreground="#1E2430",
    background="#F6F7F9",
    surface="#FFFFFF",
    panel="#E4E8EE",
    dark=False,
    variables={
        "border-blurred": "#C3CAD5",
        "scrollbar-background": "#EEF0F3",
        "scrollbar-background-hover": "#EEF0F3",
        "scrollbar-background-active": "#EEF0F3",
        "scrollbar": "#C3CAD5",
        "scrollbar-corner-color": "#EEF0F3",
    },
)
BUILT_IN = (DARK, LIGHT)
DEFAULT_THEME = DARK.name

COLOURS: tuple[str, ...] = (
    *("primary", "secondary", "accent", "warning", "error", "success"),
    *("foreground", "background", "surface", "panel", "boost"),
)
KNOWN = {"name", "dark", "luminosity_spread", "text_alpha", "variables", *COLOURS}


class ThemeFileError(Exception):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass
class LoadedThemes:
    """The themes that loaded, and one line per file that did not."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """All problems as one toast's text (empty when there are none)."""
        if not self.problems:
            return ""
        head = "a theme file was skipped" if len(self.problems) == 1 else "theme files skipped"
        return f"{head}; using the default theme:\n" + "\n".join(self.problems)


def _colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f'{path}: {key} must be a colour string such as "#1F6FB2"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: {key} = {value!r} is not a colour") from None
    return value


def parse_theme(path: Path) -> Theme:
    """Read one theme file; raise :class:`ThemeFileError` naming the file and the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path}: cannot read it ({exc})") from None
    unknown = sorted(set(data) - KNOWN)
    if unknown:
        raise ThemeFileError(
            f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})"
        )
    if "primary" not in data:
        raise ThemeFileError(f"{path}: primary is missing (the one colour a theme needs)")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{path}: name must be a non-empty string")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{path}: dark must be true or false")
    colours = {k: _colour(path, k, data[k]) for k in COLOURS if k in data}
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError(f"{path}: [variables] must map names to strings")
    numbers: dict[str, float] = {}
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            value = data[key]
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ThemeFileError(f"{path}: {key} must be a number from 0 to 1")
            numbers[key] = float(value)
    fields: dict[str, Any] = {**colours, **numbers}
    theme = Theme(name=name.strip(), dark=dark, variables=dict(variables), **fields)
    try:
        theme.to_color_system().generate()
    except Exception as exc:
        raise ThemeFileError(f"{path}: {exc}") from None
    return theme


def load_user_themes(folder: Path) -> LoadedThemes:
    """Every ``*.toml`` theme in ``folder`` (sorted by name); a missing folder holds none."""
    loaded = LoadedThemes()
    if not folder.is_dir():
        return loaded
    taken = {t.name for t in BUILT_IN}
    for path in sorted(folder.glob("*.toml")):
        try:
            theme = parse_theme(path)
        except ThemeFileError as exc:
            loaded.problems.append(str(exc))
            continue
        if theme.name in taken:
            loaded.problems.append(f"{path}: the name {theme.name!r} is already taken")
            continue
        taken.add(theme.name)
        loaded.themes.append(theme)
    return loaded
