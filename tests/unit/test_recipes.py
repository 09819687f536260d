"""Recipes and their templates: what a valid recipe becomes, and a one-line message for each mistake."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agent_tui.core.goals import next_fire
from agent_tui.core.recipes import (
    MAX_STEPS,
    RecipeError,
    ancestors,
    load_recipe,
    parse_recipe,
    validate_cron,
)
from agent_tui.core.templates import Reference, TemplateError, references, render

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def echo(id_: str, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "tool": "echo", "args": {"text": text}, **extra}


def recipe(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"title": "t", **top, "steps": list(steps)}


def error_of(data: dict[str, Any]) -> str:
    """The message ``parse_recipe`` refuses ``data`` with, checked to be a single line."""
    with pytest.raises(RecipeError) as info:
        parse_recipe(data)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# Valid recipes


def test_minimal_recipe_gets_the_defaults() -> None:
    parsed = parse_recipe(recipe(echo("a")))
    assert parsed.title == "t"
    assert parsed.priority == 5
    assert parsed.schedule is None and parsed.workspace is None and parsed.budget is None
    assert parsed.dry_run is False
    (step,) = parsed.steps
    assert (step.id, step.kind, step.tool, step.args) == ("a", "tool", "echo", {"text": "hi"})
    assert step.depends_on == [] and step.approval is None and step.max_attempts is None


def test_every_key_is_kept() -> None:
    parsed = parse_recipe(
        {
            "title": "Everything",
            "description": "all keys",
            "priority": 9,
            "schedule": "30 6 * * *",
            "workspace": "~/somewhere",
            "dry_run": True,
            "max_parallel": 2,
            "budget": {"max_usd": 1.5, "max_tokens": 1000, "max_seconds": 60, "max_iterations": 3},
            "steps": [
                echo("a", title="First"),
                {
                    "id": "b-2",
                    "tool": "shell",
                    "args": {"command": "echo {{ steps.a.output }}", "timeout": 5},
                    "depends_on": ["a"],
                    "approval": "ask",
                    "max_attempts": 4,
                },
            ],
        }
    )
    assert parsed.priority == 9 and parsed.max_parallel == 2 and parsed.dry_run
    assert parsed.schedule == "30 6 * * *" and parsed.workspace == "~/somewhere"
    assert parsed.budget is not None and parsed.budget.max_usd == 1.5
    assert parsed.steps[0].title == "First"
    b = parsed.steps[1]
    assert (b.approval, b.max_attempts, b.depends_on) == ("ask", 4, ["a"])


def test_templates_may_refer_to_indirect_dependencies() -> None:
    parsed = parse_recipe(
        recipe(
            echo("a"),
            echo("b", "{{ steps.a.output }}", depends_on=["a"]),
            echo("c", "{{ steps.a.result.chars }} {{ steps.b.output }}", depends_on=["b"]),
        )
    )
    assert ancestors(parsed, "c") == {"a", "b"}
    assert ancestors(parsed, "a") == set()


def test_fan_in_and_fan_out() -> None:
    parsed = parse_recipe(
        recipe(
            echo("root"),
            echo("left", depends_on=["root"]),
            echo("right", depends_on=["root"]),
            echo(
                "join",
                "{{ steps.left.output }}{{ steps.right.output }}",
                depends_on=["left", "right"],
            ),
        )
    )
    assert ancestors(parsed, "join") == {"root", "left", "right"}


def test_a_chain_of_the_most_steps_allowed() -> None:
    steps = [echo("s0")] + [
        echo(f"s{i}", f"{{{{ steps.s{i - 1}.output }}}}", depends_on=[f"s{i - 1}"])
        for i in range(1, MAX_STEPS)
    ]
    parsed = parse_recipe(recipe(*steps))
    assert len(parsed.steps) == MAX_STEPS
    assert len(ancestors(parsed, f"s{MAX_STEPS - 1}")) == MAX_STEPS - 1


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    parsed = load_recipe(path)
    assert parsed.title
    assert parsed.steps[-1].tool == "write_document"


def test_the_examples_exist() -> None:
    names = {p.name for p in EXAMPLES.glob("*.toml")}
    assert {"system-report.toml", "repo-health.toml", "workspace-notes.toml"} <= names


def test_workspace_notes_needs_no_approval() -> None:
    parsed = load_recipe(EXAMPLES / "workspace-notes.toml")
    assert {s.tool for s in parsed.steps} <= {
        "echo",
        "write_file",
        "read_file",
        "list_files",
        "write_document",
    }
    assert all(s.approval is None for s in parsed.steps)


# Invalid recipes: one line that names the step and the problem

ERRORS = [
    pytest.param({"steps": [echo("a")]}, ["missing required key 'title'"], id="no-title"),
    pytest.param({"title": "t"}, ["missing required key 'steps'"], id="no-steps"),
    pytest.param({"title": "t", "steps": []}, ["steps:", "at least 1"], id="empty-steps"),
    pytest.param({"title": "", "steps": [echo("a")]}, ["title:", "at least 1"], id="empty-title"),
    pytest.param(recipe(echo("a"), titel="x"), ["unknown key 'titel'"], id="unknown-key"),
    pytest.param(
        recipe(echo("a", command="ls")),
        ["step 'a'", "unknown key 'command'"],
        id="unknown-step-key",
    ),
    pytest.param(
        recipe(echo("a"), priority=11),
        ["priority:", "less than or equal to 10"],
        id="priority-high",
    ),
    pytest.param(
        recipe(echo("a"), priority=0),
        ["priority:", "greater than or equal to 1"],
        id="priority-low",
    ),
    pytest.param(
        recipe(echo("a"), budget={"dollars": 1}), ["unknown key 'budget.dollars'"], id="budget-key"
    ),
    pytest.param(
        recipe(*[echo(f"s{i}") for i in range(MAX_STEPS + 1)]),
        ["steps:", f"at most {MAX_STEPS}"],
        id="too-many-steps",
    ),
    pytest.param(
        recipe({"tool": "echo", "args": {"text": "x"}}),
        ["step #1", "missing required key 'id'"],
        id="step-without-id",
    ),
    pytest.param(
        recipe(echo("a"), {"id": "b"}), ["step 'b'", "missing required key 'tool'"], id="no-tool"
    ),
    pytest.param(
        recipe(echo("bad id!")), ["step 'bad id!'", "must start with a letter"], id="bad-id"
    ),
    pytest.param(recipe(echo("1st")), ["step '1st'", "must start with a letter"], id="digit-id"),
    pytest.param(
        recipe(echo("a", approval="never")), ["step 'a'", "approval", "'ask'"], id="approval"
    ),
    pytest.param(recipe(echo("a", max_attempts=0)), ["step 'a'", "max_attempts"], id="attempts"),
    pytest.param(
        recipe(echo("a", kind="agent")),
        ["step 'a'", "agent step takes instructions"],
        id="agent-kind",
    ),
    pytest.param(recipe(echo("a"), echo("a")), ["step 'a': duplicate step id"], id="duplicate"),
    pytest.param(
        recipe(echo("a", depends_on=["a"])), ["step 'a': depends on itself"], id="self-dep"
    ),
    pytest.param(
        recipe(echo("a", depends_on=["ghost"])),
        ["step 'a': depends on unknown step 'ghost'"],
        id="unknown-dep",
    ),
    pytest.param(
        recipe(echo("a", depends_on=["b"]), echo("b", depends_on=["a"])),
        ["dependency cycle a → b → a"],
        id="cycle-2",
    ),
    pytest.param(
        recipe(
            echo("a", depends_on=["c"]), echo("b", depends_on=["a"]), echo("c", depends_on=["b"])
        ),
        ["dependency cycle a → c → b → a"],
        id="cycle-3",
    ),
    pytest.param(
        recipe(echo("a"), echo("b", depends_on="a")),
        ["step 'b'", "depends_on", "list"],
        id="deps-string",
    ),
    pytest.param(
        recipe({"id": "a", "tool": "nope"}),
        ["step 'a': unknown tool 'nope'", "known: echo"],
        id="unknown-tool",
    ),
    pytest.param(
        recipe({"id": "a", "tool": "shell", "args": {"command": 42}}),
        ["step 'a': shell args.command:", "valid string"],
        id="arg-type",
    ),
    pytest.param(
        recipe({"id": "a", "tool": "shell", "args": {"command": "ls", "cwd": "/"}}),
        ["step 'a': shell args.cwd: unknown argument"],
        id="unknown-arg",
    ),
    pytest.param(
        recipe({"id": "a", "tool": "shell"}),
        ["step 'a': shell args.command: missing argument"],
        id="missing-arg",
    ),
    pytest.param(
        recipe(echo("a"), echo("b", "{{ steps.a.stdout }}", depends_on=["a"])),
        ["step 'b'", "bad template", "steps.a.stdout"],
        id="template-expression",
    ),
    pytest.param(
        recipe(echo("a"), echo("b", "{{ steps.a.output }")),
        ["step 'b'", "unbalanced"],
        id="template-unbalanced",
    ),
    pytest.param(
        recipe(echo("a"), echo("b", "{{ steps.a.output }}")),
        ["step 'b'", "refers to step 'a'", "depends_on"],
        id="template-not-a-dependency",
    ),
    pytest.param(
        recipe(echo("a", depends_on=["b"]), echo("b", "{{ steps.a.output }}")),
        ["step 'b'", "refers to step 'a'"],
        id="template-refers-to-a-dependent",
    ),
    pytest.param(
        recipe(echo("a"), echo("b", "{{ steps.ghost.output }}", depends_on=["a"])),
        ["step 'b'", "refers to step 'ghost'"],
        id="template-unknown-step",
    ),
    pytest.param(
        recipe(
            {"id": "a", "tool": "write_document", "args": {"name": "n", "content": ["{{ x }}"]}}
        ),
        ["step 'a'", "bad template"],
        id="template-in-a-list",
    ),
    pytest.param(
        recipe(echo("a"), schedule="0 9 * *"), ["schedule:", "needs 5 fields"], id="cron-fields"
    ),
    pytest.param(recipe(echo("a"), schedule="61 * * * *"), ["schedule:", "61"], id="cron-range"),
    pytest.param(
        recipe(echo("a"), schedule="*/0 * * * *"), ["schedule:", "ncrement"], id="cron-step-zero"
    ),
]


@pytest.mark.parametrize(("data", "fragments"), ERRORS)
def test_invalid_recipes_are_refused_in_one_line(
    data: dict[str, Any], fragments: list[str]
) -> None:
    message = error_of(data)
    for fragment in fragments:
        assert fragment in message


UNTRUSTED_NEWLINES = [
    pytest.param(recipe(echo("a\nb")), "step ", id="step-id"),
    pytest.param(recipe({"id": "a", "tool": "ec\nho"}), "unknown tool", id="tool-name"),
    pytest.param(recipe(echo("a", depends_on=["x\ny"])), "unknown step", id="dependency"),
    pytest.param(recipe(echo("a", "{{ steps.a.\n x }}")), "bad template", id="template"),
]


@pytest.mark.parametrize(("data", "fragment"), UNTRUSTED_NEWLINES)
def test_newlines_in_user_strings_keep_the_message_on_one_line(
    data: dict[str, Any], fragment: str
) -> None:
    assert fragment in error_of(data)


def test_cycle_message_names_a_step_in_the_cycle() -> None:
    message = error_of(
        recipe(echo("x"), echo("a", depends_on=["b", "x"]), echo("b", depends_on=["a"]))
    )
    assert message == "step 'a': dependency cycle a → b → a"


def test_load_recipe_prefixes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('title = "t"\n[[steps]]\nid = "a"\ntool = "nope"\n', encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"recipe {path}: step 'a': unknown tool 'nope'")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param("DIR", "is a directory", id="directory"),
        pytest.param(b'title = "\xff"\n', "cannot read it", id="not-utf8"),
        pytest.param(b'title = "t"\n[[steps]\n', "TOML syntax error", id="toml-syntax"),
        pytest.param(b"", "missing required key 'title'", id="empty-file"),
    ],
)
def test_load_recipe_file_problems(
    tmp_path: Path, content: bytes | str | None, fragment: str
) -> None:
    path = tmp_path / "r.toml"
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert message.startswith(f"recipe {path}: ") and fragment in message
    assert "\n" not in message


# Cron


def _local(*args: int) -> float:
    return datetime(*args).astimezone().timestamp()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("* * * * *", (2025, 1, 1, 9, 0, 30), (2025, 1, 1, 9, 1)),
        ("0 9 * * 1-5", (2025, 1, 3, 10, 0), (2025, 1, 6, 9, 0)),  # Friday, then Monday
        ("0 9 * * 1-5", (2025, 1, 6, 8, 59), (2025, 1, 6, 9, 0)),
        ("*/15 0-6 1,15 * *", (2025, 1, 1, 6, 50), (2025, 1, 15, 0, 0)),
        ("*/15 0-6 1,15 * *", (2025, 1, 15, 0, 0), (2025, 1, 15, 0, 15)),
        ("0 9 * * mon", (2025, 1, 1, 12, 0), (2025, 1, 6, 9, 0)),  # Wednesday, then Monday
    ],
)
def test_valid_cron_fires_when_cron_would(
    expr: str, after: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    validate_cron(expr)
    assert next_fire(expr, _local(*after)) == _local(*expected)


@pytest.mark.parametrize(
    "expr", ["", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "x * * * *"]
)
def test_invalid_cron(expr: str) -> None:
    with pytest.raises(ValueError):
        validate_cron(expr)


def test_next_fire_is_after_the_given_time() -> None:
    after = _local(2025, 1, 1, 9, 0)
    assert next_fire("0 9 * * *", after) == _local(2025, 1, 2, 9, 0)
    assert next_fire("*/5 * * * *", _local(2025, 1, 1, 9, 1)) == _local(2025, 1, 1, 9, 5)


def test_cron_weekday_numbers_follow_cron() -> None:
    wednesday = _local(2025, 1, 1, 12, 0)
    assert next_fire("0 9 * * 1", wednesday) == _local(2025, 1, 6, 9, 0)  # Monday
    assert next_fire("0 9 * * 0", wednesday) == _local(2025, 1, 5, 9, 0)  # Sunday


def test_cron_accepts_seven_for_sunday() -> None:
    validate_cron("0 9 * * 7")
    wednesday = _local(2025, 1, 1, 12, 0)
    assert next_fire("0 9 * * 7", wednesday) == _local(2025, 1, 5, 9, 0)
    # 5-7 is Friday to Sunday, as in cron (APScheduler alone would read 7 as out of range).
    fire = [next_fire("0 9 * * 5-7", wednesday)]
    for _ in range(3):
        fire.append(next_fire("0 9 * * 5-7", fire[-1]))
    assert fire == [_local(2025, 1, d, 9, 0) for d in (3, 4, 5, 10)]


def test_cron_that_never_fires_is_refused() -> None:
    with pytest.raises(ValueError, match="never"):
        validate_cron("0 0 31 2 *")


# Templates


def test_references_finds_outputs_and_result_fields() -> None:
    refs = references(
        {
            "a": "x {{ steps.one.output }} y",
            "b": ["{{steps.two.result}}", {"c": "{{  steps.three.result.data.exit_code  }}"}],
            "n": 3,
            "t": True,
        }
    )
    assert refs == [
        Reference("one", ("output",)),
        Reference("two", ("result",)),
        Reference("three", ("result", "data", "exit_code")),
    ]
    assert str(refs[2]) == "steps.three.result.data.exit_code"


def test_references_of_plain_values_are_empty() -> None:
    assert references("no templates { here } at all") == []
    assert references({"n": 1, "l": [None, 2.5]}) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("{{ }}", "bad template", id="empty"),
        pytest.param("{{ steps.a }}", "bad template", id="no-field"),
        pytest.param("{{ steps.a.stdout }}", "bad template", id="unknown-field"),
        pytest.param("{{ steps.1a.output }}", "bad template", id="bad-step-id"),
        pytest.param("{{ steps.a.result. }}", "bad template", id="trailing-dot"),
        pytest.param("{{ env.HOME }}", "bad template", id="not-steps"),
        pytest.param("{{ steps.a.output }", "unbalanced", id="unclosed"),
        pytest.param("steps.a.output }}", "unbalanced", id="unopened"),
        pytest.param("{{ steps.a.output }} and {{", "unbalanced", id="dangling"),
    ],
)
def test_bad_templates(text: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        references({"arg": text})
    assert fragment in str(info.value)
    assert "steps.ID.output" in str(info.value) or "unbalanced" in str(info.value)


RESULTS: dict[str, dict[str, Any]] = {
    "a": {"output": "alpha", "result": {"exit_code": 0, "ok": True, "nested": {"n": [1, 2]}}},
    "b": {"output": "", "result": {"name": "beta"}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ steps.a.output }}", "alpha"),
        ("<{{steps.a.output}}|{{ steps.b.output }}>", "<alpha|>"),
        ("{{ steps.b.result.name }}", "beta"),
        ("{{ steps.a.result.exit_code }}", "0"),
        ("{{ steps.a.result.ok }}", "true"),
        ("{{ steps.a.result.nested }}", '{"n": [1, 2]}'),
        ("{{ steps.a.result.nested.n }}", "[1, 2]"),
        ("{{ steps.b.result }}", '{"name": "beta"}'),
        ("no template", "no template"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, RESULTS) == expected


def test_render_walks_containers_and_keeps_other_values() -> None:
    value = {
        "s": "{{ steps.a.output }}",
        "l": ["{{ steps.b.result.name }}", 3],
        "n": None,
        "f": 1.5,
    }
    assert render(value, RESULTS) == {"s": "alpha", "l": ["beta", 3], "n": None, "f": 1.5}


def test_render_inserts_text_verbatim() -> None:
    results = {"a": {"output": "{{ steps.b.output }} $HOME `x`", "result": {}}}
    assert render("[{{ steps.a.output }}]", results) == "[{{ steps.b.output }} $HOME `x`]"


def test_render_step_without_result() -> None:
    with pytest.raises(TemplateError, match="step 'zzz' has no result yet"):
        render("{{ steps.zzz.output }}", RESULTS)


def test_render_missing_field_lists_the_fields() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ steps.a.result.exit }}", RESULTS)
    message = str(info.value)
    assert "no field 'exit' in result" in message and "exit_code, nested, ok" in message


def test_render_field_of_a_non_object() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ steps.a.result.nested.n.x }}", RESULTS)
    assert "no field 'x' in nested.n (has: list)" in str(info.value)


def test_render_many_templates_in_one_string() -> None:
    assert render("{{ steps.a.output }} " * 1000, RESULTS) == "alpha " * 1000
