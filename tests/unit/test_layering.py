"""The core stays headless: it never imports Textual or Rich, and headless commands load no UI."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, cli_env

CORE = ROOT / "agent_tui" / "core"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            if node.module.startswith("agent_tui.ui"):
                names.add("agent_tui.ui")
    return names


def test_core_sources_import_no_ui() -> None:
    files = list(CORE.rglob("*.py"))
    assert files
    for path in files:
        bad = _imports(path) & {"textual", "rich", "agent_tui.ui"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def _loaded_after(code: str, home: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=cli_env(home),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(out.stdout.split())


def test_importing_the_whole_core_loads_no_ui(home: Path) -> None:
    code = (
        "import sys, pkgutil, importlib, agent_tui.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'agent_tui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import agent_tui.commands.worker, agent_tui.commands.goals\n"
        "print(' '.join(sys.modules))"
    )
    loaded = _loaded_after(code, home)
    # rich may arrive through httpx (its optional CLI); Textual never may.
    assert not any(m == "textual" or m.startswith("textual.") for m in loaded)
    assert not any(m.startswith("agent_tui.ui") for m in loaded)


def test_worker_help_loads_no_textual(home: Path) -> None:
    code = (
        "import sys\n"
        "from agent_tui.cli import main\n"
        "try:\n    main(['worker', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=cli_env(home),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "--until-idle" in out.stdout
    assert "textual" not in out.stdout.split("\n")[-2].split()


NOT_FOR_READING = ("asyncio", "textual", "rich", "litellm", "httpx", "apscheduler", "sqlite_utils")
"""What printing goals needs none of: ``ls`` and ``show`` start without loading them."""


def _top_modules_after(argvs: list[list[str]], home: Path) -> set[str]:
    """The modules (and their top-level packages) loaded once ``main`` ran each of ``argvs`` in one process."""
    code = (
        "import contextlib, io, sys\n"
        "from agent_tui.cli import main\n"
        f"for argv in {argvs!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n            main(argv)\n        except SystemExit:\n            pass\n"
        "print(' '.join(sys.modules))"
    )
    loaded = _loaded_after(code, home)
    return loaded | {m.split(".")[0] for m in loaded}


def test_version_and_help_load_no_config_and_no_database(home: Path) -> None:
    loaded = _top_modules_after([["--version"], ["--help"], ["ls", "--help"]], home)
    heavy = {"pydantic", "sqlite_utils", "asyncio", "agent_tui.config"}
    assert not loaded & heavy, loaded & heavy


def test_ls_and_show_load_only_what_they_print(home: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "agent_tui.cli", "add", "--recipe", "system-report"],
        env=cli_env(home),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    argvs = [["ls"], ["ls", "--json"], ["show", "1"], ["show", "1", "--json"]]
    loaded = _top_modules_after(argvs, home)
    assert "agent_tui.core.store.views" in loaded  # the commands ran
    heavy = set(NOT_FOR_READING)
    if os.environ.get("AGENT_TUI_STORE_URL"):
        heavy.discard("asyncio")  # psycopg imports it: reading from a server needs the driver
    assert not loaded & heavy, loaded & heavy


def test_builtin_names_match_the_tools() -> None:
    from agent_tui.core.tools.registry import BUILTIN_NAMES, builtin_tools

    assert set(builtin_tools()) == BUILTIN_NAMES


def test_the_import_contracts_hold() -> None:
    # pyproject.toml's [tool.importlinter]: the layers, a headless core, no cycles in the core.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def _private_reaches(path: Path) -> list[str]:
    """Names starting with one underscore that ``path`` takes from another object or module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agent_tui"):
            found += [
                f"{path.name}:{node.lineno} imports {a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_core_module_reaches_into_another_s_private_names() -> None:
    found = [hit for path in sorted(CORE.rglob("*.py")) for hit in _private_reaches(path)]
    assert found == []
