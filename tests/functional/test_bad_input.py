"""Malformed recipes and broken configs, through the real ``agent-tui`` in a subprocess.

Each mistake must end in exactly one ``agent-tui: error: ...`` line on stderr that names the file or
variable, the step and the problem; exit code 1 (bad input) or 2 (bad usage); no traceback; and
nothing stored.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

MISSING = object()
"""Recipe or config content meaning: no file at all."""
DIRECTORY = object()
"""Recipe or config content meaning: a directory where the file should be."""

Run = Callable[..., subprocess.CompletedProcess[str]]

VALID = """\
title = "Valid"

[[steps]]
id = "a"
tool = "echo"
args = { text = "hi" }
"""

STEP_A = 'id = "a"\ntool = "echo"\nargs = { text = "hi" }'
"""The body of a valid step "a"."""


def steps(*bodies: str) -> str:
    """A recipe titled "t" with one ``[[steps]]`` table per body."""
    return 'title = "t"\n' + "".join(f"\n[[steps]]\n{body.strip()}\n" for body in bodies)


@pytest.fixture
def cli(home: Path) -> Run:
    """Run ``agent-tui ARGS...`` with ``AGENT_TUI_HOME`` set to the test's home and nothing else set."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_TUI_")}
        environ["AGENT_TUI_HOME"] = str(home)
        environ["PYTHONPATH"] = str(ROOT)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "agent_tui.cli", *args],
            capture_output=True,
            text=True,
            env=environ,
            cwd=home.parent,
            timeout=60,
        )

    return run


def write(path: Path, content: object) -> Path:
    """Put ``content`` (text, bytes, :data:`MISSING` or :data:`DIRECTORY`) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is DIRECTORY:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    return path


def stored(home: Path) -> tuple[int, int]:
    """Goals and schedules in the database (none when it was never created)."""
    db = home / "data" / "agent-tui.db"
    if not db.exists():
        return 0, 0
    with closing(sqlite3.connect(db)) as conn:
        goals = conn.execute("SELECT count(*) FROM goals").fetchone()[0]
        schedules = conn.execute("SELECT count(*) FROM schedules").fetchone()[0]
    return goals, schedules


def error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Check the shape of a refusal and return its one line."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode in (1, 2), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("agent-tui: error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert result.stdout == ""
    return line


# Recipes

RECIPES = [
    pytest.param(
        'title = "t"\n[[steps]\nid = "a"\n', ["TOML syntax error", "line 2"], id="toml-syntax"
    ),
    pytest.param("[[steps]]\n" + STEP_A, ["missing required key 'title'"], id="missing-title"),
    pytest.param('title = "t"\n', ["missing required key 'steps'"], id="no-steps"),
    pytest.param('title = "t"\nsteps = []\n', ["steps:", "at least 1 item"], id="empty-steps"),
    pytest.param(
        'title = "t"\n[steps]\nid = "a"\n', ["steps:", "valid list"], id="steps-is-a-table"
    ),
    pytest.param(
        'title = "t"\nsteps = ["a"]\n', ["step #1", "must be a table"], id="step-is-a-string"
    ),
    pytest.param(b"", ["missing required key 'title'"], id="empty-file"),
    pytest.param(
        steps('id = "a"\ntool = "nope"'),
        ["step 'a': unknown tool 'nope'", "known: echo"],
        id="unknown-tool",
    ),
    pytest.param(
        steps(STEP_A, 'id = "b"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["ghost"]'),
        ["step 'b': depends on unknown step 'ghost'"],
        id="unknown-dependency",
    ),
    pytest.param(
        steps('id = "a"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["a"]'),
        ["step 'a': depends on itself"],
        id="self-dependency",
    ),
    pytest.param(
        steps(
            'id = "a"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["b"]',
            'id = "b"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["a"]',
        ),
        ["step 'a': dependency cycle a → b → a"],
        id="cycle-of-2",
    ),
    pytest.param(
        steps(
            'id = "a"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["c"]',
            'id = "b"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["a"]',
            'id = "c"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = ["b"]',
        ),
        ["step 'a': dependency cycle a → c → b → a"],
        id="cycle-of-3",
    ),
    pytest.param(
        steps(
            'id = "a"\ntool = "echo"\nargs = { text = "x" }\ndepends_on = "b"',
            'id = "b"\ntool = "echo"',
        ),
        ["step 'a': depends_on:", "valid list"],
        id="depends-on-a-string",
    ),
    pytest.param(steps(STEP_A, STEP_A), ["step 'a': duplicate step id"], id="duplicate-id"),
    pytest.param(
        steps('id = "bad id!"\ntool = "echo"\nargs = { text = "x" }'),
        ["step 'bad id!': id:", "must start with a letter"],
        id="bad-step-id",
    ),
    pytest.param(
        steps('id = "a\\nb"\ntool = "echo"\nargs = { text = "x" }'),
        ["step ", "must start with a letter"],
        id="step-id-with-newline",
    ),
    pytest.param(
        'schedule = "0 9 * *"\n' + steps(STEP_A),
        ["schedule: cron expression '0 9 * *' needs 5 fields"],
        id="cron-4-fields",
    ),
    pytest.param(
        'schedule = "61 * * * *"\n' + steps(STEP_A),
        ["schedule:", "61", "maximum value (59)"],
        id="cron-minute-61",
    ),
    pytest.param(
        'schedule = "0 0 31 2 *"\n' + steps(STEP_A),
        ["schedule:", "never"],
        id="cron-never-fires",
    ),
    pytest.param(
        steps(
            STEP_A,
            'id = "b"\ntool = "echo"\ndepends_on = ["a"]\nargs = { text = "{{ steps.a.stdout }}" }',
        ),
        ["step 'b': bad template '{{ steps.a.stdout }}'"],
        id="template-bad-expression",
    ),
    pytest.param(
        steps(STEP_A, 'id = "b"\ntool = "echo"\nargs = { text = "{{ steps.a.output }}" }'),
        ["step 'b':", "refers to step 'a'", "add it to depends_on"],
        id="template-not-a-dependency",
    ),
    pytest.param(
        steps(
            STEP_A,
            'id = "b"\ntool = "echo"\ndepends_on = ["a"]\nargs = { text = "{{ steps.a.output }" }',
        ),
        ["step 'b': unbalanced '{{' or '}}'"],
        id="template-unbalanced",
    ),
    pytest.param(
        'titel = "typo"\n' + steps(STEP_A), ["unknown key 'titel'"], id="unknown-top-level-key"
    ),
    pytest.param(
        steps('id = "a"\ntool = "shell"\ncommand = "ls"'),
        ["step 'a': unknown key 'command'"],
        id="unknown-step-key",
    ),
    pytest.param(
        steps('id = "a"\ntool = "shell"\nargs = { command = 42 }'),
        ["step 'a': shell args.command:", "valid string"],
        id="shell-command-a-number",
    ),
    pytest.param(
        steps('id = "a"\ntool = "shell"\nargs = { command = "ls", cwd = "/" }'),
        ["step 'a': shell args.cwd: unknown argument"],
        id="unknown-tool-argument",
    ),
    pytest.param(
        steps('id = "a"\ntool = "read_file"\nargs = {}'),
        ["step 'a': read_file args.path: missing argument"],
        id="missing-tool-argument",
    ),
    pytest.param(
        steps(
            'id = "a"\ntool = "write_document"\nargs = { name = "n", content = "c", mime = "text/html" }'
        ),
        ["step 'a': write_document args.mime:"],
        id="bad-document-mime",
    ),
    pytest.param(
        "priority = 11\n" + steps(STEP_A),
        ["priority:", "less than or equal to 10"],
        id="priority-11",
    ),
    pytest.param(
        'priority = "high"\n' + steps(STEP_A), ["priority:", "valid integer"], id="priority-text"
    ),
    pytest.param(
        steps('id = "a"\ntool = "shell"\nargs = { command = "ls" }\napproval = "never"'),
        ["step 'a': approval:", "'ask'"],
        id="approval-not-ask",
    ),
    pytest.param(
        steps(STEP_A) + "\n[budget]\nmax_dollars = 5\n",
        ["unknown key 'budget.max_dollars'"],
        id="unknown-budget-key",
    ),
    pytest.param(MISSING, ["no such file"], id="missing-file"),
    pytest.param(DIRECTORY, ["is a directory"], id="directory"),
    pytest.param(b'title = "caf\xe9"\n', ["cannot read it", "utf-8"], id="not-utf8"),
]


@pytest.mark.parametrize(("content", "fragments"), RECIPES)
def test_bad_recipe(
    cli: Run, home: Path, tmp_path: Path, content: object, fragments: list[str]
) -> None:
    path = write(tmp_path / "recipe.toml", content)
    result = cli("add", "--recipe", str(path))
    line = error_line(result, f"agent-tui: error: recipe {path}: ", *fragments)
    assert result.returncode == 1, line
    assert stored(home) == (0, 0)


def test_bad_recipe_through_a_relative_path(cli: Run, home: Path) -> None:
    path = write(home.parent / "relative.toml", steps('id = "a"\ntool = "nope"'))
    result = cli("add", "--recipe", path.name)
    error_line(result, str(path), "step 'a': unknown tool 'nope'")
    assert stored(home) == (0, 0)


USAGE = [
    pytest.param(["add"], 2, "give either goal TEXT or --recipe FILE", id="nothing-to-add"),
    pytest.param(["add", "x", "--recipe", "{recipe}"], 2, "not both", id="text-and-recipe"),
    pytest.param(
        ["add", "--recipe", "{recipe}", "--priority", "11"],
        2,
        "--priority: must be from 1 to 10, not 11",
        id="priority-option",
    ),
    pytest.param(
        ["add", "--recipe", "{recipe}", "--schedule", "0 9 * *"],
        2,
        "--schedule: cron expression '0 9 * *' needs 5 fields",
        id="schedule-option",
    ),
    pytest.param(
        ["add", "tidy up", "--schedule", "0 9 * * *"],
        2,
        "--schedule: needs a recipe",
        id="text-schedule",
    ),
    pytest.param(["add", "   "], 1, "the goal text is empty", id="blank-text"),
]


@pytest.mark.parametrize(("args", "code", "fragment"), USAGE)
def test_bad_usage(
    cli: Run, home: Path, tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    recipe = write(tmp_path / "valid.toml", VALID)
    result = cli(*(a.format(recipe=recipe) for a in args))
    error_line(result, fragment)
    assert result.returncode == code
    assert stored(home) == (0, 0)


# Configs

CONFIGS = [
    pytest.param("model = \n", {}, ["config.toml:", "line 1"], id="toml-syntax"),
    pytest.param(
        "[executor]\nmax_paralel = 3\n", {}, ["executor.max_paralel: unknown key"], id="unknown-key"
    ),
    pytest.param(
        "[executer]\nmax_parallel = 3\n", {}, ["executer: unknown key"], id="unknown-section"
    ),
    pytest.param(
        'executor.max_parallel = "many"\n',
        {},
        ["executor.max_parallel:", "valid integer", "(got 'many')"],
        id="wrong-type",
    ),
    pytest.param(
        "[executor]\nmax_parallel = 0\n",
        {},
        ["executor.max_parallel:", "greater than or equal to 1", "(got 0)"],
        id="out-of-range",
    ),
    pytest.param(
        '[policy.tools]\nshell = "maybe"\n',
        {},
        ["policy.tools.shell:", "'allow', 'ask' or 'deny'", "(got 'maybe')"],
        id="bad-policy-decision",
    ),
    pytest.param(
        '[policy]\ntools = "allow"\n', {}, ["policy.tools:", "dictionary"], id="policy-not-a-table"
    ),
    pytest.param("executor = 4\n", {}, ["executor:", "(got 4)"], id="section-not-a-table"),
    pytest.param("model = 5\n", {}, ["model:", "valid string"], id="model-a-number"),
    pytest.param(b"model = '\xff'\n", {}, ["config.toml:", "cannot read", "utf-8"], id="not-utf8"),
    pytest.param(DIRECTORY, {}, ["config.toml:", "cannot read", "Is a directory"], id="directory"),
    pytest.param(
        MISSING,
        {"AGENT_TUI_EXECUTOR__MAX_PARALLEL": "zero"},
        ["the AGENT_TUI_* environment", "executor.max_parallel:", "(got 'zero')"],
        id="env-not-a-number",
    ),
    pytest.param(
        "[executor]\nmax_parallel = 2\n",
        {"AGENT_TUI_EXECUTOR__MAX_PARALLEL": "0"},
        ["the AGENT_TUI_* environment", "executor.max_parallel:", "greater than or equal to 1"],
        id="env-out-of-range",
    ),
    pytest.param(
        MISSING,
        {"AGENT_TUI_EXECUTOR__MAX_PARALEL": "2"},
        ["the AGENT_TUI_* environment", "executor.max_paralel: unknown key"],
        id="env-unknown-key",
    ),
    pytest.param(
        MISSING,
        {"AGENT_TUI_POLICY__TOOLS__SHELL": "sometimes"},
        ["the AGENT_TUI_* environment", "policy.tools.shell:"],
        id="env-bad-policy",
    ),
    pytest.param(
        MISSING,
        {"AGENT_TUI_EXECUTOR__MAX_PARALLEL": "2", "AGENT_TUI_EXECUTOR__MAX_PARALLEL__LIMIT": "3"},
        ["the AGENT_TUI_* environment", "executor.max_parallel"],
        id="env-value-and-subkey",
    ),
]


@pytest.mark.parametrize(("config", "env", "fragments"), CONFIGS)
def test_broken_config_stops_add(
    cli: Run, home: Path, tmp_path: Path, config: object, env: dict[str, str], fragments: list[str]
) -> None:
    config_path = write(home / "config" / "config.toml", config)
    recipe = write(tmp_path / "valid.toml", VALID)
    result = cli("add", "--recipe", str(recipe), env=env)
    source = "the AGENT_TUI_* environment" if env else str(config_path)
    line = error_line(result, f"agent-tui: error: config error in {source}", *fragments)
    assert result.returncode == 1, line
    assert stored(home) == (0, 0)


@pytest.mark.parametrize(("config", "env", "fragments"), CONFIGS)
def test_broken_config_is_reported_by_doctor(
    cli: Run, home: Path, config: object, env: dict[str, str], fragments: list[str]
) -> None:
    write(home / "config" / "config.toml", config)
    result = cli("doctor", env=env)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1, result.stderr
    line = [x for x in result.stdout.splitlines() if x.lstrip().startswith("config ")][-1]
    assert "ERROR: config error in" in line
    for fragment in fragments:
        assert fragment in line
    assert result.stdout.rstrip().endswith("1 problem(s) above")


# What valid input does


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_examples_are_accepted(cli: Run, home: Path, path: Path) -> None:
    result = cli("add", "--recipe", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1" and result.stderr == ""
    assert stored(home) == (1, 0)


def test_dry_run_stores_one_goal(cli: Run, home: Path) -> None:
    result = cli("add", "--recipe", str(EXAMPLES / "workspace-notes.toml"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("1\n", "")
    assert stored(home) == (1, 0)
    with closing(sqlite3.connect(home / "data" / "agent-tui.db")) as conn:
        title, dry_run, source = conn.execute("SELECT title, dry_run, source FROM goals").fetchone()
        n_steps = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    assert (title, dry_run, source, n_steps) == ("Workspace notes", 1, "recipe", 6)


def test_relative_workspace_is_relative_to_the_recipe(cli: Run, home: Path) -> None:
    result = cli("add", "--recipe", str(EXAMPLES / "repo-health.toml"))
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(home / "data" / "agent-tui.db")) as conn:
        (workspace,) = conn.execute("SELECT workspace FROM goals").fetchone()
    assert workspace == str((ROOT / "examples").resolve())


def test_scheduled_recipe_stores_a_schedule_and_no_goal(
    cli: Run, home: Path, tmp_path: Path
) -> None:
    recipe = write(tmp_path / "nightly.toml", 'schedule = "30 2 * * *"\n' + VALID)
    result = cli("add", "--recipe", str(recipe))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("schedule 1: 'Valid' runs at '30 2 * * *'")
    assert stored(home) == (0, 1)


def test_text_goal_without_a_model_is_stored_with_a_hint(cli: Run, home: Path) -> None:
    result = cli("add", "summarise the README")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n"
    (hint,) = result.stderr.splitlines()
    assert hint.startswith("goal 1 waits: no model: set AGENT_TUI_MODEL")
    assert "AGENT_TUI_MODEL" in hint
    assert stored(home) == (1, 0)
    with closing(sqlite3.connect(home / "data" / "agent-tui.db")) as conn:
        assert conn.execute("SELECT source, text FROM goals").fetchone() == (
            "text",
            "summarise the README",
        )


def test_an_internal_error_exits_70_with_one_line_and_the_traceback_in_the_log(
    cli: Run, home: Path
) -> None:
    # A row no version of agent-tui writes (a step's result that is not an object, as a hand
    # edit could leave it) is a bug to report, not a user's mistake: exit 70, one line naming
    # the log, the traceback in the log, and the file left as it was.
    assert cli("add", "--recipe", "system-report").returncode == 0
    assert cli("dry-run", "on").returncode == 0
    assert cli("worker", "--until-idle").returncode == 0
    db = home / "data" / "agent-tui.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE steps SET result = '[1]'")
        conn.commit()
    before = db.read_bytes()
    shown = cli("show", "1")
    assert shown.returncode == 70, shown.stderr
    [line] = shown.stderr.splitlines()
    log = home / "state" / "agent-tui.log"
    assert line.startswith("agent-tui: internal error: ") and f"details in {log}" in line
    assert "Traceback" not in shown.stderr
    text = log.read_text()
    assert "unexpected error" in text and "Traceback (most recent call last)" in text
    assert db.read_bytes() == before
