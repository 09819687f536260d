"""The policy's edges that mutation testing found unguarded (``make mutation``).

Each test goes through :func:`decide` (the rule index, not a rule on its own) or through the
matchers' helpers, and names the promise a changed line would break: a deny that must not turn
into an allow, an allow that must not reach further than its rule.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent_tui.config import Settings
from agent_tui.core.matchers import Call, RuleError, compile_test, glob_regex, normalise_path
from agent_tui.core.policy import decide, hard_denied
from agent_tui.core.rules import Rule, RuleSpec
from tests.unit.test_policy import with_config_rules


def rule(tool: str, matcher: str, pattern: str, decision: str = "allow", id: int = 1) -> Rule:
    return Rule(tool, matcher, pattern, decision, "user", id=id)  # type: ignore[arg-type]


def shell(command: str, settings: Settings, *rules: Rule, default: str = "allow") -> str:
    return decide("shell", default, {"command": command}, settings, rules=rules).decision


# -- the hard-deny list --------------------------------------------------------------------------


def test_ifs_between_words_reads_as_a_space() -> None:
    # Only the text with ${IFS} read as a space shows the rm of /.
    assert hard_denied("rm${IFS}-rf${IFS}/") == "removing / or the home directory is never run"
    assert hard_denied("rm$IFS-rf$IFS/") is not None


# -- the rule index: deny and ask rules read loosely, allow rules strictly -----------------------


@pytest.mark.parametrize(
    "command",
    [
        "echo hi && rm -rf build",
        "ls; rm -rf build",
        "FOO=1 BAR=2 rm -rf build",
        "env A=1 rm -rf build",
        "env nice rm -rf build",
        "env -i rm -rf build",
        "timeout 5s rm -rf build",
        "nice +5 rm -rf build",
        "bash -c 'rm -rf build'",
        "r\\m -rf build",
        '"rm" -rf build',
        "/usr/bin/rm -rf build",
    ],
)
def test_a_deny_prefix_catches_every_segment_through_decide(
    settings: Settings, command: str
) -> None:
    deny = rule("shell", "prefix", "rm", "deny")
    assert shell(command, settings, deny) == "deny"


def test_a_deny_prefix_written_with_a_directory_catches_the_bare_name(settings: Settings) -> None:
    deny = rule("shell", "prefix", "/usr/bin/rm -rf", "deny")
    assert shell("rm -rf build", settings, deny) == "deny"
    assert shell("echo x; /usr/bin/rm -rf build", settings, deny) == "deny"
    assert shell("rm build", settings, deny) == "allow"


def test_a_deny_prefix_catches_a_shell_running_a_script(settings: Settings) -> None:
    deny = rule("shell", "prefix", "sh deploy.sh", "deny")
    assert shell("sh deploy.sh --prod", settings, deny) == "deny"
    assert shell("bash build.sh", settings, deny) == "allow"


def test_an_allow_prefix_through_a_wrapper_allows_exactly_that(settings: Settings) -> None:
    allow = rule("shell", "prefix", "timeout 60 pytest")
    assert shell("timeout 60 pytest -q", settings, allow, default="ask") == "allow"
    assert shell("pytest -q", settings, allow, default="ask") == "ask"
    assert shell("timeout 60 pytest; rm -rf x", settings, allow, default="ask") == "ask"


def test_a_command_that_is_not_text_is_never_allowed_and_never_crashes(
    settings: Settings,
) -> None:
    allow = rule("shell", "prefix", "git status")
    deny = rule("shell", "prefix", "rm", "deny", id=2)
    args: dict[str, Any] = {"command": ["git", "status"]}
    verdict = decide("shell", "ask", args, settings, rules=[allow, deny])
    assert verdict.decision == "ask"


@pytest.mark.parametrize("command", ["nice -5", "env -i", "bash build.sh", "sh"])
def test_odd_commands_get_a_verdict(settings: Settings, command: str) -> None:
    deny = rule("shell", "prefix", "rm", "deny")
    assert shell(command, settings, deny, default="ask") == "ask"


def test_the_index_is_kept_per_pair_of_rule_sets(settings: Settings) -> None:
    stored = (rule("shell", "prefix", "make"),)
    assert shell("make all", settings, *stored, default="ask") == "allow"
    denying = with_config_rules(Settings(), RuleSpec.of("shell", "prefix", "make", "deny"))
    verdict = decide("shell", "ask", {"command": "make all"}, denying, rules=stored)
    assert verdict.decision == "deny"
    assert decide("shell", "ask", {"command": "make all"}, settings, rules=stored).decision == (
        "allow"
    )


def test_a_recipe_step_that_asks_keeps_the_rule_that_allowed(settings: Settings) -> None:
    allow = rule("shell", "prefix", "make")
    verdict = decide("shell", "ask", {"command": "make"}, settings, "ask", rules=[allow])
    assert verdict.decision == "ask"
    assert verdict.rule is allow


# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("read_file", {}),
        ("write_file", {"path": 5}),
        ("write_file", {"path": "~/.bashrc"}),
        ("list_files", {"path": ".."}),
        ("read_file", {"path": "../x"}),
        ("read_file", {"path": "/etc/hosts"}),
    ],
)
def test_an_allow_glob_never_covers_a_missing_or_outside_path(
    settings: Settings, tool: str, args: dict[str, Any]
) -> None:
    allow = rule(tool, "glob", "**")
    assert decide(tool, "ask", args, settings, rules=[allow]).decision == "ask"


def test_list_files_without_a_path_is_the_workspace_root(settings: Settings) -> None:
    root = rule("list_files", "glob", ".")
    assert decide("list_files", "ask", {}, settings, rules=[root]).decision == "allow"
    assert decide("list_files", "ask", {"path": ""}, settings, rules=[root]).decision == "allow"
    assert normalise_path("") == (".", True)
    assert normalise_path("~") == ("~", False)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("src/**/x.py", "src/x.py", True),
        ("src/**/x.py", "src/a/b/x.py", True),
        ("src/**/x.py", "srcx.py", False),
        ("src/**.py", "src/a/b.py", True),
        ("src/**.py", "src/a/b.txt", False),
        ("src/**.py", "src/a/bpy", False),
        ("a/*/b/*.md", "a/x/b/y.md", True),
        ("a/*/b/*.md", "a/x/y/b/y.md", False),
        ("a?b?c", "axbyc", True),
        ("[ab]x[cd]", "bxd", True),
        ("[ab]x[cd]", "bxe", False),
        ("x[!ab]y", "xcy", True),
        ("x[!ab]y", "x/y", False),
        ("v[1]", "v1", True),
        ("a[]b", "a[]b", True),
        ("[", "[", True),
        ("x[]y]z", "x]z", True),
        ("x[[]", "xX", False),
        ("x[!ab]y", "x!y", True),
        ("[ab]x[cd]", "Xxd", False),
    ],
)
def test_glob_regex_anywhere_in_the_pattern(pattern: str, path: str, expected: bool) -> None:
    assert (re.fullmatch(glob_regex(pattern), path) is not None) is expected


# -- web hosts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "denied"),
    [
        # Python clients read the host after the last @, browsers stop at the backslash.
        ("http://evil.com\\@other.com", "evil.com"),
        ("http://evil.com\\@other.com", "other.com"),
        ("HTTP://evil.com\\@other.com", "evil.com"),
        ("http://a@b@evil.com\\@other.com", "evil.com"),
        ("http://evil.com:8080\\@other.com", "evil.com"),
    ],
)
def test_a_deny_domain_catches_every_reading_of_the_url(
    settings: Settings, url: str, denied: str
) -> None:
    deny = rule("web_fetch", "domain", denied, "deny")
    assert decide("web_fetch", "allow", {"url": url}, settings, rules=[deny]).decision == "deny"
    assert denied in Call("web_fetch", {"url": url}).hosts()


def test_a_shell_script_after_setsid_is_still_the_script(settings: Settings) -> None:
    deny = rule("shell", "prefix", "bash run.sh", "deny")
    assert shell("setsid -c bash run.sh", settings, deny) == "deny"


# -- rules that cannot work are refused, with the reason ---------------------------------------

PLAIN = "prefix {}: plain words only (no quotes, ; & | < > ` $( or newlines)"


@pytest.mark.parametrize(
    ("tool", "matcher", "pattern", "decision", "message"),
    [
        ("", "any", "", "allow", "tool: empty or padded with spaces"),
        (" shell", "any", "", "allow", "tool: empty or padded with spaces"),
        (".*", "any", "", "allow", "tool '.*': the only wildcard is an MCP server's 'server.*'"),
        (
            "git*.*",
            "any",
            "",
            "allow",
            "tool 'git*.*': the only wildcard is an MCP server's 'server.*'",
        ),
        ("*.x", "any", "", "allow", "tool '*.x': the only wildcard is an MCP server's 'server.*'"),
        (
            "gh.*",
            "regex",
            "x",
            "deny",
            "tool 'gh.*': 'server.*' takes no prefix, regex, glob or domain",
        ),
        (
            "read_file",
            "regex",
            "x",
            "deny",
            "regex rules are for shell and python (not read_file); use glob for file tools, "
            "domain for web tools, or no matcher for every call",
        ),
        ("shell", "glob", "x", "deny", "glob rules are for list_files, read_file, write_file"),
        ("shell", "domain", "x.com", "deny", "domain rules are for web_fetch, web_search"),
        ("shell", "any", "", "maybe", "decision 'maybe': not allow, ask or deny"),
        ("shell", "any", "rm", "deny", "a rule for every call has no pattern"),
        ("shell", "prefix", "  ", "deny", "prefix: empty pattern"),
        ("shell", "word", "x", "deny", "matcher 'word': not prefix, regex, glob, domain or any"),
        ("shell", "prefix", "git 'status'", "allow", PLAIN.format("\"git 'status'\"")),
        ("shell", "prefix", "git\\ status", "allow", PLAIN.format("'git\\\\ status'")),
        ("read_file", "glob", "~/x", "deny", "glob '~/x': relative to the workspace, without '..'"),
    ],
)
def test_a_rule_that_cannot_work_is_refused(
    tool: str, matcher: str, pattern: str, decision: str, message: str
) -> None:
    with pytest.raises(RuleError) as caught:
        compile_test(tool, matcher, pattern, decision)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("tool", "matcher", "pattern"),
    [("a.*", "any", ""), ("github.*", "any", "*"), ("shell", "any", ""), ("python", "regex", "x")],
)
def test_a_rule_that_can_work_is_accepted(tool: str, matcher: str, pattern: str) -> None:
    compile_test(tool, matcher, pattern, "allow")
