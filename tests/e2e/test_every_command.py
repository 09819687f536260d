"""Every subcommand through ``cli.main``: ``--help``, and its simplest real use, never a crash.

A command added to the parser without a case here fails :func:`test_every_command_has_a_case`,
so a handler that falls through to another module's (``usage`` once did) cannot come back.
"""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

import pytest

from agent_tui import cli

SIMPLEST: list[tuple[str, list[str], tuple[int, ...]]] = [
    ("add", ["add", "--recipe", "system-report"], (0,)),
    ("worker", ["worker", "--until-idle"], (3,)),  # five approvals wait
    ("approvals", ["approvals"], (0,)),
    ("reject", ["reject", "5", "--reason", "not now"], (0,)),  # the goal fails: the rest withdrawn
    ("retry", ["retry", "1"], (0,)),
    ("worker", ["worker", "--until-idle"], (3,)),
    ("approve", ["approve", "--goal", "1", "--yes"], (0,)),
    ("worker", ["worker", "--until-idle"], (0,)),
    ("ls", ["ls"], (0,)),
    ("show", ["show", "1"], (0,)),
    ("search", ["search", "kernel"], (0,)),
    ("usage", ["usage"], (0,)),
    ("export", ["export", "1", "--out", "{tmp}"], (0,)),
    ("undo", ["undo", "1", "--json"], (0, 2)),  # 2: read-only commands changed nothing
    ("archive", ["archive", "1"], (0,)),
    ("add", ["add", "--recipe", "workspace-notes"], (0,)),
    ("pause", ["pause", "2"], (0,)),
    ("resume", ["resume", "2"], (0,)),
    ("cancel", ["cancel", "2"], (0,)),
    ("pause", ["pause", "--all"], (0,)),
    ("resume", ["resume", "--all"], (0,)),
    ("dry-run", ["dry-run"], (0,)),
    ("rules", ["rules"], (0,)),
    ("schedules", ["schedules"], (0,)),
    ("examples", ["examples"], (0,)),
    ("completion", ["completion", "bash"], (0,)),
    ("vacuum", ["vacuum"], (0,)),
    ("keys", ["keys"], (0,)),
    ("doctor", ["doctor", "--json"], (0, 1)),  # 1 when a check fails (no sandbox, say)
    ("locate", ["locate", "db"], (0,)),
]
"""Each command's simplest real use, in an order that works on one fresh database, with the exit
codes it may give."""

NOT_HERE = {"serve", "migrate"}
"""``serve`` runs a server until stopped: tests/e2e/test_serve.py drives it; ``migrate`` needs a
PostgreSQL server: tests/functional/test_postgres.py drives it."""


def _commands() -> list[str]:
    parser = cli._parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def test_every_command_has_a_case() -> None:
    assert set(_commands()) == {name for name, _, _ in SIMPLEST} | NOT_HERE


@pytest.mark.parametrize("command", _commands())
def test_help_of_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    assert gc.isenabled()  # main(argv) leaves the garbage collector as it found it
    assert f"agent-tui {command}" in capsys.readouterr().out


def test_simplest_use_of_every_command(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _, argv, allowed in SIMPLEST:
        argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
        code = cli.main(argv)
        out = capsys.readouterr()
        assert code in allowed, (argv, code, out.err)
        assert gc.isenabled(), argv
        assert "internal error" not in out.err, (argv, out.err)
        assert "Traceback" not in out.err, argv
