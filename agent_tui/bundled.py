"""The example recipes and sample themes that ship inside the package, read through importlib.resources.

They live in ``agent_tui/examples/`` and ``agent_tui/themes/`` so that a wheel, ``uv tool install``
or ``pipx`` carries them too (a checkout also has ``examples`` and ``themes`` links at its top).
An example is named by its file stem (``system-report``); ``agent-tui add --recipe NAME``, the
welcome and the new-goal dialog accept that name wherever a recipe path is asked for.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from agent_tui.core.recipes import Recipe, RecipeError, load_recipe


@dataclass(frozen=True, slots=True)
class Example:
    """One bundled example recipe that validated."""

    name: str
    path: Path
    recipe: Recipe


def _folder(kind: str) -> Traversable:
    return resources.files("agent_tui") / kind


@contextmanager
def _on_disk(kind: str) -> Iterator[Path]:
    """The bundled folder as a real directory (a temporary copy only if the package is zipped)."""
    with resources.as_file(_folder(kind)) as path:
        yield Path(path)


def examples_dir() -> Path:
    """Where the example recipes are on disk (the package is installed unzipped by pip and uv)."""
    return Path(str(_folder("examples")))


def themes_dir() -> Path:
    """Where the sample themes are on disk."""
    return Path(str(_folder("themes")))


def list_examples(folder: Path | None = None) -> list[Example]:
    """The example recipes in ``folder`` (default: the bundled ones) that load, sorted by name."""
    folder = examples_dir() if folder is None else folder
    found: list[Example] = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                found.append(Example(path.stem, path, load_recipe(path)))
            except RecipeError:
                continue
    return found


def sample_themes() -> list[Path]:
    """The sample theme files, sorted by name."""
    folder = themes_dir()
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def example_named(name: str) -> Path | None:
    """The bundled example called ``name`` (``system-report`` or ``system-report.toml``), if any.

    Only a bare name matches: anything with a path separator is a path, never an example.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = examples_dir() / (name if name.endswith(".toml") else f"{name}.toml")
    return path if path.is_file() else None


def for_here(recipe: Recipe, cwd: Path | None = None) -> Recipe:
    """``recipe`` with a relative ``workspace`` made absolute against the current directory.

    A bundled example's folder is inside the installed package, never a place to work in: started
    by name, ``workspace = "."`` means the directory agent-tui was started from.
    """
    if not recipe.workspace or Path(recipe.workspace).expanduser().is_absolute():
        return recipe
    base = cwd or Path.cwd()
    return recipe.model_copy(update={"workspace": str((base / recipe.workspace).absolute())})


def resolve_recipe(arg: str, cwd: Path | None = None) -> tuple[Path, Recipe]:
    """A recipe given as a file path or as an example's name, loaded and validated.

    An existing file wins over an example of the same name. Raises :class:`RecipeError` with the
    known example names when neither exists.
    """
    base = cwd or Path.cwd()
    path = (base / Path(arg).expanduser()).absolute()
    if path.exists():
        return path, load_recipe(path)
    example = example_named(arg)
    if example is not None:
        return example, for_here(load_recipe(example), base)
    names = ", ".join(e.name for e in list_examples()) or "none installed"
    hint = f" and no example is called that (examples: {names})" if example_named_like(arg) else ""
    raise RecipeError(f"recipe {path}: no such file{hint}")


def example_named_like(arg: str) -> bool:
    """Whether ``arg`` looks like an example's name rather than a path."""
    return bool(arg) and "/" not in arg and "\\" not in arg


class CopyError(Exception):
    """Copying the examples out would overwrite a different file."""


def copy_examples(dest: Path) -> list[Path]:
    """Copy the example recipes into ``dest`` and the sample themes into ``dest/themes``.

    Files that already hold the same bytes are left alone; a different file of the same name stops
    the copy before anything is written (raises :class:`CopyError`). Returns the files written.
    """
    plan: list[tuple[Path, Path]] = []
    with _on_disk("examples") as recipes, _on_disk("themes") as themes:
        plan += [(src, dest / src.name) for src in sorted(recipes.glob("*.toml"))]
        plan += [(src, dest / "themes" / src.name) for src in sorted(themes.glob("*.toml"))]
        for src, target in plan:
            if target.exists() and (
                not target.is_file() or target.read_bytes() != src.read_bytes()
            ):
                raise CopyError(f"{target} exists and differs; nothing copied")
        written: list[Path] = []
        for src, target in plan:
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            written.append(target)
    return written
