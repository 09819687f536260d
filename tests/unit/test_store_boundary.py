"""The store boundary: no module outside ``agent_tui.core.store`` holds SQL.

Every statement lives in the store package, so a second backend implements that package and nothing
else (see its docstring). This test reads every other module's string literals, f-strings included,
and fails on any that reads as SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import agent_tui

PACKAGE = Path(agent_tui.__file__).parent
STORE = PACKAGE / "core" / "store"
SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH|PRAGMA|CREATE|DROP|ALTER|BEGIN|COMMIT|"
    r"ROLLBACK|VACUUM|EXPLAIN|ANALYZE)\s+\S"
)


def literals(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    parts = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
            found.append((node.lineno, text))
    return found


def sql_outside_the_store() -> dict[str, list[str]]:
    offenders: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if STORE in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hits = [f"line {n}: {text.strip()[:60]}" for n, text in literals(tree) if SQL.match(text)]
        if hits:
            offenders[str(path.relative_to(PACKAGE))] = hits
    return offenders


def test_no_module_outside_the_store_holds_sql() -> None:
    offenders = sql_outside_the_store()
    assert not offenders, "SQL outside agent_tui/core/store/:\n" + "\n".join(
        f"{name}: {hits}" for name, hits in offenders.items()
    )


def test_no_module_outside_the_store_touches_the_connection() -> None:
    """The raw connection (``store.conn``, sqlite-utils' ``store.db``) is the store's own."""
    used = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if STORE in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("conn", "db"):
                used.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not used


def test_the_scanner_finds_sql() -> None:
    tree = ast.parse('x = f"SELECT id FROM goals WHERE id = {n}"\ny = "UPDATE steps SET a = 1"')
    assert [text for _, text in literals(tree) if SQL.match(text)] == [
        "SELECT id FROM goals WHERE id = {}",
        "UPDATE steps SET a = 1",
    ]
