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

STILL_TO_MOVE: set[str] = {
    "commands/goals.py",
    "commands/rules.py",
    "commands/undo.py",
    "commands/vacuum.py",
    "core/checkpoints/record.py",
    "core/checkpoints/retention.py",
    "core/checkpoints/undo.py",
    "core/export.py",
    "core/output.py",
    "core/rules.py",
    "core/schedules.py",
    "core/spend.py",
    "core/timeline.py",
    "core/transcript.py",
    "core/webhooks.py",
    "ui/screens/schedules.py",
    "ui/screens/undo_actions.py",
}
"""Modules that still hold SQL while they move behind the boundary: empty when it is done."""


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
    unexpected = {name: hits for name, hits in offenders.items() if name not in STILL_TO_MOVE}
    assert not unexpected, "SQL outside agent_tui/core/store/:\n" + "\n".join(
        f"{name}: {hits}" for name, hits in unexpected.items()
    )


def test_the_list_of_modules_still_to_move_is_true() -> None:
    assert set(sql_outside_the_store()) >= STILL_TO_MOVE, "a module left the list: remove it"


def test_the_scanner_finds_sql() -> None:
    tree = ast.parse('x = f"SELECT id FROM goals WHERE id = {n}"\ny = "UPDATE steps SET a = 1"')
    assert [text for _, text in literals(tree) if SQL.match(text)] == [
        "SELECT id FROM goals WHERE id = {}",
        "UPDATE steps SET a = 1",
    ]
