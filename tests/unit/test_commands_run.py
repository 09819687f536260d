"""What a shell command runs: which workspace files decide what it does (an "always allow" binds
to them), and which program names only the shell's expansion would tell."""

from __future__ import annotations

import pytest

from agent_tui.core.commands_run import SUBSTITUTION_IN_QUOTES, files_run, nonliteral_program


@pytest.mark.parametrize(
    ("command", "files"),
    [
        ("./run.sh --fast", ["run.sh"]),
        ("bash scripts/build.sh", ["scripts/build.sh"]),
        ("python3 -u tool.py arg", ["tool.py"]),
        ("python3.12 tool.py", ["tool.py"]),
        ("python -m pytest", []),  # a module, not a file of the workspace
        ('sh -c "echo hi"', []),
        ("python", []),
        ("python $SCRIPT", []),  # only the shell would tell which file
        ("make -f build.mk all", ["Makefile", "makefile", "GNUmakefile", "build.mk"]),
        ("git status", [".git/config", ".git/hooks"]),
        (
            "uv run pytest -q",
            ["pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", "conftest.py"],
        ),
        ("poetry run ./manage.sh", ["pyproject.toml", "manage.sh"]),
        ("npm test && npm run lint", ["package.json", ".npmrc"]),
        ("cd sub; ./go.sh", ["go.sh"]),
        ("nice -n 5 ./x.sh", ["x.sh"]),  # a wrapper is skipped to the program it runs
        ("FOO=1 ./x.sh", ["x.sh"]),
        ("if true; then ./a.sh; fi", ["a.sh"]),
        ("/usr/bin/env ls", []),  # outside the workspace
        ("../up.sh", []),
        ("ls -la", []),
        ("echo 'a; ./not-run.sh'", []),  # quoted: one argument, not a command
        ("echo a\\;./b.sh", []),  # an escaped separator is a character, not a command
    ],
)
def test_the_files_that_decide_what_a_command_does(command: str, files: list[str]) -> None:
    assert files_run(command) == files


def test_files_are_named_once_and_normalised() -> None:
    assert files_run("./a/../b.sh; b.sh; sh ./b.sh") == ["b.sh"]


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("$x id", "$x"),
        ("s${x}udo ls", "s${x}udo"),
        ("$'sudo' ls", "$'sudo'"),
        ("~/bin/* x", "~/bin/*"),
        ('echo "$(id)"', SUBSTITUTION_IN_QUOTES),
        ('echo "`id`"', SUBSTITUTION_IN_QUOTES),
        ("ls; $cmd", "$cmd"),
        ("bash -c '$x run'", "$x"),  # what bash -c runs is read as a command
        ("'$x' id", "$x"),  # a program quoted whole is read for what it runs
        ('"ma ke" test', None),
    ],
)
def test_a_program_only_the_shell_would_name(command: str, program: str | None) -> None:
    assert nonliteral_program(command) == program


@pytest.mark.parametrize(
    "command",
    [
        "ls -la",
        "make test && ./run.sh",
        "[ -e x ] && echo yes",
        "[[ -e x ]]",
        'echo "plain \\"quoted\\" text"',
        "FOO=1 BAR=2 env",
        "echo ${HOME}",
        "while true; do sleep 1; done",
        "",
    ],
)
def test_plain_programs_are_plain(command: str) -> None:
    assert nonliteral_program(command) is None
