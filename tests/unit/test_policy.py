"""The policy: every matcher, the decision order, the hard-deny list, proposals and the config shape."""

from __future__ import annotations

import tomllib
from types import SimpleNamespace
from typing import Any

import pytest

from agent_tui.config import PolicySettings, Settings
from agent_tui.core.matchers import glob_regex
from agent_tui.core.policy import HARD_DENY, decide, hard_denied
from agent_tui.core.rules import Rule, RuleError, RuleSpec, propose_rule


def rule(tool: str, matcher: str, pattern: str, decision: str = "allow", id: int = 1) -> Rule:
    return Rule(tool, matcher, pattern, decision, "user", id=id)  # type: ignore[arg-type]


def allows(r: Rule, tool: str, **args: Any) -> bool:
    return r.matches(tool, args)


def with_config_rules(settings: Settings, *specs: RuleSpec) -> Any:
    """Settings carrying ``[[policy.rules]]``, whether or not PolicySettings has the field yet."""
    if "rules" in PolicySettings.model_fields:
        settings.policy.rules = list(specs)  # type: ignore[attr-defined]
        return settings
    return SimpleNamespace(policy=SimpleNamespace(tools=settings.policy.tools, rules=list(specs)))


# -- prefix ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("git status", True),
        ("git status -s", True),
        ("  git   status   --short  ", True),
        ("git statusx", False),
        ("git", False),
        ("git log", False),
        ("/usr/bin/git status", False),
        ("git status; rm -rf x", False),
        ("git status && rm -rf x", False),
        ("git status || rm -rf x", False),
        ("git status | sh", False),
        ("git status & rm -rf x", False),
        ("git status `rm -rf x`", False),
        ("git status $(rm -rf x)", False),
        ("git status > ~/.bashrc", False),
        ("git status < /etc/passwd", False),
        ("git status\nrm -rf x", False),
        ("git status\rrm -rf x", False),
    ],
)
def test_prefix_allow_is_whole_words_and_never_compound(command: str, expected: bool) -> None:
    assert allows(rule("shell", "prefix", "git status"), "shell", command=command) is expected


def test_prefix_reads_code_for_python_and_nothing_for_other_tools() -> None:
    r = rule("python", "prefix", "import json")
    assert allows(r, "python", code="import json")
    assert not allows(r, "python", code="import json\nimport os")
    assert not allows(r, "python", code="import json; import os")
    assert not allows(r, "shell", command="import json")


def test_allow_rules_on_the_command_never_cover_extra_environment() -> None:
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.fsmonitor"}
    for r in (rule("shell", "prefix", "git status"), rule("shell", "regex", "git status")):
        assert allows(r, "shell", command="git status", env={})
        assert not allows(r, "shell", command="git status", env=env)
    assert allows(rule("shell", "prefix", "git", "deny"), "shell", command="git status", env=env)
    proposal = propose_rule("shell", {"command": "git status", "env": env})
    assert proposal.spec.prefix == "git status"
    assert proposal.description == (
        "every command starting with `git status`, when run without extra environment variables"
        " (calls that set env still ask)"
    )


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf build",
        "ls; rm -rf build",
        "ls && /bin/rm x",
        "echo $(rm x)",
        "true | xargs rm",
        "env FOO=1 rm x",
        "FOO=1 rm x",
        "nice -n 5 rm x",
        "timeout 5 rm x",
        "bash -c 'rm -rf build'",
        'sh -lc "ls; rm x"',
        "r''m x",
        "if true; then rm x; fi",
    ],
)
def test_prefix_deny_matches_any_segment(command: str) -> None:
    assert allows(rule("shell", "prefix", "rm", "deny"), "shell", command=command)


def test_prefix_deny_does_not_match_mentions() -> None:
    r = rule("shell", "prefix", "rm", "deny")
    assert not allows(r, "shell", command="echo rm")
    assert not allows(r, "shell", command="grep -r rmdir .")
    assert not allows(r, "shell", command="rmdir x")


# -- regex -------------------------------------------------------------------------------------


def test_regex_is_a_full_match() -> None:
    r = rule("shell", "regex", r"make (test|lint)")
    assert allows(r, "shell", command="make test")
    assert not allows(r, "shell", command="make test; rm -rf x")
    assert not allows(r, "shell", command="make testing")
    assert not allows(r, "shell", command="make test\nrm -rf x")
    assert not allows(r, "shell", command="xmake test")


def test_regex_deny_also_matches_a_segment() -> None:
    r = rule("shell", "regex", r"curl .*", "deny")
    assert allows(r, "shell", command="curl http://x")
    assert allows(r, "shell", command="cd /tmp && curl http://x")
    assert not allows(r, "shell", command="echo curl")


# -- glob --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("docs/*", "docs/a.md", True),
        ("docs/*", "docs/sub/a.md", False),
        ("docs/**", "docs/sub/deep/a.md", True),
        ("docs/**", "docs", True),
        ("docs/**", "docsx/a.md", False),
        ("**/*.md", "a.md", True),
        ("**/*.md", "x/y/a.md", True),
        ("**/*.md", "x/y/a.txt", False),
        ("*.md", "x/a.md", False),
        ("src/?.py", "src/a.py", True),
        ("src/?.py", "src/ab.py", False),
        ("src/[ab].py", "src/b.py", True),
        ("src/[!ab].py", "src/c.py", True),
        ("src/[!ab].py", "src/a.py", False),
        ("a*b", "a/b", False),
        ("**", "anything/at/all", True),
        ("docs/**", "./docs/x/../a.md", True),
        ("docs/**", "docs/../secrets/a", False),
        ("docs/**", "/abs/docs/a.md", False),
        ("docs/**", "../docs/a.md", False),
        ("docs/**", "~/docs/a.md", False),
        ("./docs/*.md", "docs/a.md", True),
    ],
)
def test_glob_allow(pattern: str, path: str, expected: bool) -> None:
    assert allows(rule("read_file", "glob", pattern), "read_file", path=path) is expected


def test_glob_star_never_crosses_a_slash() -> None:
    assert glob_regex("a/*") == "a/[^/]*"
    assert glob_regex("a/**") == "a(?:/.*)?"


def test_glob_deny_catches_absolute_and_dotdot_paths() -> None:
    r = rule("read_file", "glob", "secrets/**", "deny")
    assert allows(r, "read_file", path="secrets/key")
    assert allows(r, "read_file", path="/home/me/ws/secrets/key")
    assert allows(r, "read_file", path="docs/../secrets/key")
    assert allows(r, "read_file", path="../ws/secrets/key")
    assert not allows(r, "read_file", path="docs/secrets.md")


def test_glob_list_files_defaults_to_the_workspace() -> None:
    assert allows(rule("list_files", "glob", "**"), "list_files")
    assert not allows(rule("list_files", "glob", "docs/**"), "list_files")


# -- domain ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/x", True),
        ("http://EXAMPLE.com.:8080/x", True),
        ("https://api.docs.example.com/", True),
        ("https://notexample.com/", False),
        ("https://example.com.evil.net/", False),
        ("https://example.com@evil.net/", False),
        ("https://evil.net#@example.com", False),
        ("https://evil.net\\@example.com/", False),
        ("https://evil.net\\.example.com/", False),
        ("ftp://example.com/x", False),
        ("file://example.com/etc/passwd", False),
        ("https:// example.com", False),
        ("example.com", False),
        ("https://example.com:99999/", False),
    ],
)
def test_domain_allow(url: str, expected: bool) -> None:
    assert allows(rule("web_fetch", "domain", "example.com"), "web_fetch", url=url) is expected


def test_domain_deny_reads_every_host_a_client_might_use() -> None:
    r = rule("web_fetch", "domain", "evil.net", "deny")
    assert allows(r, "web_fetch", url="https://evil.net\\@example.com/")
    assert allows(r, "web_fetch", url="https://x@evil.net/")
    assert allows(r, "web_fetch", url="https://EVIL.net./")
    assert not allows(r, "web_fetch", url="https://example.com/evil.net")


def test_domain_pattern_accepts_a_leading_wildcard() -> None:
    assert allows(
        rule("web_fetch", "domain", "*.example.com"), "web_fetch", url="https://a.example.com"
    )


# -- any and MCP servers -----------------------------------------------------------------------


def test_any_and_mcp_server_wildcard() -> None:
    assert allows(rule("echo", "any", "*"), "echo", text="x")
    server = rule("github.*", "any", "*")
    assert allows(server, "github.create_issue")
    assert not allows(server, "githubx.create_issue")
    assert not allows(server, "github")
    assert not allows(rule("github.create_issue", "any", "*"), "github.list")


# -- the decision order ------------------------------------------------------------------------


def test_deny_wins_whatever_the_order(settings: Settings) -> None:
    allow = rule("shell", "prefix", "git", "allow", id=1)
    deny = rule("shell", "prefix", "git push", "deny", id=2)
    for rules in ([allow, deny], [deny, allow]):
        verdict = decide("shell", "ask", {"command": "git push -f"}, settings, rules=rules)
        assert verdict.decision == "deny"
        assert verdict.reason == 'rule 2: shell prefix "git push" → deny'
        assert verdict.rule is deny
    assert decide(
        "shell", "ask", {"command": "git pull"}, settings, rules=[deny, allow]
    ).decision == ("allow")


def test_ask_rules_beat_allow_rules(settings: Settings) -> None:
    rules = [rule("shell", "any", "*", "allow", 1), rule("shell", "prefix", "git push", "ask", 2)]
    assert decide("shell", "ask", {"command": "git push"}, settings, rules=rules).decision == "ask"
    assert decide("shell", "ask", {"command": "git log"}, settings, rules=rules).decision == "allow"


def test_the_first_matching_rule_is_named(settings: Settings) -> None:
    rules = [
        rule("shell", "regex", "git .*", "allow", 7),
        rule("shell", "prefix", "git", "allow", 3),
    ]
    assert decide("shell", "ask", {"command": "git log"}, settings, rules=rules).reason.startswith(
        "rule 7:"
    )


def test_hard_deny_beats_every_rule(settings: Settings) -> None:
    rules = [rule("shell", "any", "*", "allow")]
    settings.policy.tools["shell"] = "allow"
    verdict = decide("shell", "ask", {"command": "sudo ls"}, settings, rules=rules)
    assert verdict.decision == "deny" and verdict.reason == "hard-deny list: sudo is never run"
    verdict = decide("python", "ask", {"code": "import os; os.system('sudo ls')"}, settings)
    assert verdict.decision == "deny"


def test_config_tool_deny_beats_allow_rules(settings: Settings) -> None:
    settings.policy.tools["shell"] = "deny"
    verdict = decide("shell", "ask", {"command": "ls"}, settings, rules=[rule("shell", "any", "*")])
    assert verdict.decision == "deny"
    assert verdict.reason == 'config: [policy.tools] shell = "deny"'


def test_rules_beat_the_config_tool_decision(settings: Settings) -> None:
    settings.policy.tools["shell"] = "allow"
    ask = rule("shell", "prefix", "git push", "ask")
    assert decide("shell", "ask", {"command": "git push"}, settings, rules=[ask]).decision == "ask"
    verdict = decide("shell", "ask", {"command": "ls"}, settings, rules=[ask])
    assert (verdict.decision, verdict.reason) == ("allow", 'config: [policy.tools] shell = "allow"')


def test_step_ask_upgrades_allow_but_never_deny(settings: Settings) -> None:
    allow = rule("shell", "prefix", "ls", "allow", 4)
    verdict = decide("shell", "ask", {"command": "ls"}, settings, "ask", rules=[allow])
    assert verdict.decision == "ask"
    assert verdict.reason == (
        'the recipe step asks for approval (otherwise rule 4: shell prefix "ls" → allow)'
    )
    assert decide("echo", "allow", {"text": "x"}, settings, "ask").decision == "ask"
    assert decide("echo", "deny", {"text": "x"}, settings, "ask").decision == "deny"
    deny = rule("shell", "prefix", "ls", "deny", 5)
    assert decide("shell", "ask", {"command": "ls"}, settings, "ask", rules=[deny]).decision == (
        "deny"
    )


def test_without_rules_the_first_cut_still_holds(settings: Settings) -> None:
    assert decide("shell", "ask", {"command": "ls"}, settings).reason == "default for shell"
    assert decide("read_file", "allow", {"path": "a"}, settings).decision == "allow"
    settings.policy.tools["shell"] = "allow"
    assert decide("shell", "ask", {"command": "ls"}, settings).decision == "allow"
    assert decide("shell", "ask", {"command": "ls"}, settings, "ask").decision == "ask"


def test_config_rules_apply_and_come_first(settings: Settings) -> None:
    conf = with_config_rules(
        settings,
        RuleSpec(tool="shell", prefix="make", decision="allow"),
        RuleSpec(tool="shell", prefix="make deploy", decision="deny"),
    )
    assert decide("shell", "ask", {"command": "make test"}, conf).reason == (
        'config rule 1: shell prefix "make" → allow'
    )
    stored = [rule("shell", "prefix", "make", "allow", 9)]
    assert decide("shell", "ask", {"command": "make"}, conf, rules=stored).reason.startswith(
        "config rule 1:"
    )
    assert decide("shell", "ask", {"command": "make deploy"}, conf, rules=stored).reason == (
        'config rule 2: shell prefix "make deploy" → deny'
    )


def test_an_unchanged_rule_list_is_indexed_once(settings: Settings) -> None:
    rules = tuple(rule("shell", "prefix", f"tool{i}", "allow", i) for i in range(1, 300))
    for i in (5, 150, 299):
        verdict = decide("shell", "ask", {"command": f"tool{i} --x"}, settings, rules=rules)
        assert verdict.reason.startswith(f"rule {i}:")


# -- the hard-deny list ------------------------------------------------------------------------

DENIED = [
    "sudo ls",
    "sudo  -u root ls",
    "/usr/bin/sudo ls",
    "echo x | sudo tee /etc/hosts",
    "ls; sudo rm x",
    "s'u'do ls",
    's"u"do ls',
    "su\\do ls",
    "sudo${IFS}ls",
    'bash -c "sudo ls"',
    "env FOO=1 sudo ls",
    "timeout 5 sudo ls",
    "nohup sudo ls &",
    "xargs sudo rm",
    "find . -exec sudo rm {} \\;",
    "$(sudo ls)",
    "doas ls",
    "pkexec ls",
    "sudoedit /etc/hosts",
    "su",
    "su -",
    "su root -c ls",
    "echo x && su - root",
    "mkfs.ext4 /dev/sdb1",
    "mkfs -t ext4 /dev/sdb1",
    "wipefs -a /dev/sdb",
    "dd if=/dev/zero of=/dev/sda bs=1M",
    "dd if=x.iso of=/dev/nvme0n1",
    "cat img > /dev/sda",
    "cat img | tee /dev/sdb",
    "rm -rf /",
    "rm -rf /*",
    "rm -r -f -- /",
    "rm -rf ~",
    "rm -rf ~/",
    "rm -rf ~/*",
    "rm -rf $HOME",
    'rm -rf "$HOME"',
    "rm -rf ${HOME}/",
    "rm -rf /home/someone",
    "rm -rf build /",
    "rm -rf /usr",
    "rm --no-preserve-root -rf x",
    "find / -name '*.log' -delete",
    "import shutil; shutil.rmtree('/')",
    "chmod -R 777 /",
    ":(){ :|:& };:",
    "bomb(){ bomb|bomb& }; bomb",
    "function f { f | f & }; f",
    "perl -e 'fork while fork'",
    "import os\nwhile True:\n    os.fork()",
    "cat ~/.ssh/id_rsa",
    "cp ~/.ssh/id_ed25519 .",
    "tar czf x.tgz $HOME/.gnupg",
    "cat /root/.aws/credentials",
    "cat /home/me/.kube/config",
    "cat ~/.netrc",
    "cd; cat .ssh/id_rsa",
    "open(os.path.expanduser('~/.ssh/id_rsa')).read()",
    "(Path.home() / '.aws' / 'credentials').read_text()",
    "cat /etc/shadow",
    "cp /etc/sudoers x",
    "shutdown -h now",
    "ls; reboot",
    "systemctl poweroff",
    "kill -9 -1",
]

ALLOWED = [
    "ls -la",
    "echo sudo",
    "git commit -m 'stop using sudo in the docs'",
    "apt-cache show sudo",
    "grep -r sudo .",
    "cat docs/su.md",
    "git status",
    "python3 -m pytest -q",
    "dd if=/dev/zero of=/dev/null bs=1M count=1",
    "dd if=/dev/zero of=out.img bs=1M count=1",
    "rm -rf build",
    "rm -rf ./dist /tmp/agent-x",
    "rm -rf ~/projects/old",
    "chmod 644 /tmp/x",
    "ssh-keygen -l -f key.pub",
    "ls .sshfs",
    "kill -1 1234",
    "if shutdown:\n    pass",
    "server.shutdown()",
    "result = summary(issue)",
    "cat /etc/hosts",
    "ls ~/.config",
    "docker compose up -d",
    "aws s3 ls",
    "kubectl get pods",
    "git rm -r --cached build",
    "rm -rf ~/.cache/pip",
    "rm -rf $HOME/.cache",
    "find . -name '*.pyc' -delete",
    "find /tmp/x -delete",
    "chown -R me:me /srv/app",
    "npm run build && npm test | tee build.log",
    "def __init__(self):\n    self.items = {}",
]


@pytest.mark.parametrize("text", DENIED)
def test_hard_deny_list(text: str) -> None:
    assert hard_denied(text) is not None, text


@pytest.mark.parametrize("text", ALLOWED)
def test_hard_deny_list_leaves_ordinary_work_alone(text: str) -> None:
    assert hard_denied(text) is None, text


@pytest.mark.parametrize("text", DENIED + ALLOWED)
def test_each_hint_is_found_wherever_its_pattern_matches(text: str) -> None:
    plain = text.replace("'", "").replace('"', "").replace("\\", "").replace("${IFS}", " ")
    for candidate in (text, plain):
        for entry in HARD_DENY:
            if entry.pattern.search(candidate):
                assert entry.hint.search(candidate), (entry.reason, candidate)


def test_hard_deny_checks_code_too(settings: Settings) -> None:
    verdict = decide("python", "ask", {"code": "open('/etc/shadow').read()"}, settings)
    assert verdict.decision == "deny" and "system secret files" in verdict.reason


# -- proposals ---------------------------------------------------------------------------------

PROPOSALS = [
    ("shell", {"command": "git status -s"}, "prefix", "git status", "every command starting with `git status`"),
    ("shell", {"command": "ls -la docs"}, "prefix", "ls", "every command starting with `ls`"),
    ("shell", {"command": "make"}, "prefix", "make", "every command starting with `make`"),
    ("shell", {"command": "./build.sh --fast"}, "prefix", "./build.sh", "every command starting with `./build.sh`"),
    ("shell", {"command": "git status | head"}, "regex", r"git status \| head", "only this exact command, nothing else"),
    ("shell", {"command": "FOO=1 make"}, "regex", "FOO=1 make", "only this exact command, nothing else"),
    ("shell", {"command": "rm -rf build"}, "regex", "rm -rf build", "only this exact command, nothing else"),
    ("shell", {"command": "bash -c 'x'"}, "regex", "bash -c 'x'", "only this exact command, nothing else"),
    ("python", {"code": "print(1)"}, "regex", r"print\(1\)", "only this exact code, nothing else"),
    ("read_file", {"path": "docs/guide/intro.md"}, "glob", "docs/guide/**", "any path under docs/guide/**"),
    ("write_file", {"path": "./docs/a.md"}, "glob", "docs/**", "any path under docs/**"),
    ("write_file", {"path": "README.md"}, "glob", "*", "any file at the top of the workspace (not in its folders)"),
    ("read_file", {"path": "we[ir]d*/a"}, "glob", "we[[]ir[]]d[*]/**", "any path under we[[]ir[]]d[*]/**"),
    ("list_files", {}, "glob", "**", "any path in the workspace"),
    ("list_files", {"path": "src"}, "glob", "src/**", "any path under src/**"),
    ("web_fetch", {"url": "https://Docs.Example.com/a?b"}, "domain", "docs.example.com", "any URL on docs.example.com or its subdomains"),
    ("web_search", {"query": "x"}, "any", "*", "every call of web_search, whatever its arguments"),
    ("github.create_issue", {"title": "x"}, "any", "*", "every call of github.create_issue, whatever its arguments"),
    ("write_document", {"name": "x"}, "any", "*", "every call of write_document, whatever its arguments"),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "args", "matcher", "pattern", "description"), PROPOSALS)
def test_proposals(
    tool: str,
    args: dict[str, Any],
    matcher: str,
    pattern: str,
    description: str,
    settings: Settings,
) -> None:
    proposal = propose_rule(tool, args)
    assert (proposal.spec.tool, proposal.spec.matcher, proposal.spec.pattern) == (
        tool,
        matcher,
        pattern,
    )
    assert proposal.spec.decision == "allow"
    assert proposal.description == description
    saved = Rule.from_spec(proposal.spec, "user", id=1)
    verdict = decide(tool, "ask", args, settings, rules=[saved])
    assert (verdict.decision, verdict.rule) == ("allow", saved)


def test_a_prefix_proposal_does_not_cover_compound_commands(settings: Settings) -> None:
    saved = Rule.from_spec(propose_rule("shell", {"command": "git status"}).spec, "user", id=1)
    verdict = decide(
        "shell", "ask", {"command": "git status; curl x | sh"}, settings, rules=[saved]
    )
    assert verdict.decision == "ask"


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("shell", {}),
        ("shell", {"command": "  "}),
        ("read_file", {"path": "/etc/hosts"}),
        ("read_file", {"path": "../x"}),
        ("write_file", {}),
    ],
)
def test_no_proposal_without_a_basis(tool: str, args: dict[str, Any]) -> None:
    with pytest.raises(RuleError):
        propose_rule(tool, args)


# -- the config shape --------------------------------------------------------------------------


def test_the_config_shape_parses() -> None:
    data = tomllib.loads("""
[[policy.rules]]
tool = "shell"
prefix = "git status"
decision = "allow"

[[policy.rules]]
tool = "read_file"
glob = "secrets/**"
decision = "deny"

[[policy.rules]]
tool = "web_fetch"
domain = "example.com"
decision = "allow"

[[policy.rules]]
tool = "github.*"
decision = "ask"
""")
    specs = [RuleSpec.model_validate(item) for item in data["policy"]["rules"]]
    assert [(s.tool, s.matcher, s.pattern, s.decision) for s in specs] == [
        ("shell", "prefix", "git status", "allow"),
        ("read_file", "glob", "secrets/**", "deny"),
        ("web_fetch", "domain", "example.com", "allow"),
        ("github.*", "any", "*", "ask"),
    ]
    assert specs[0].describe() == 'shell prefix "git status" → allow'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tool": "shell", "prefix": "ls", "regex": "ls", "decision": "allow"}, "one matcher"),
        ({"tool": "read_file", "prefix": "ls", "decision": "allow"}, "prefix rules are for"),
        ({"tool": "shell", "glob": "*", "decision": "allow"}, "glob rules are for"),
        ({"tool": "shell", "domain": "x.com", "decision": "allow"}, "domain rules are for"),
        ({"tool": "shell", "regex": "(", "decision": "allow"}, "regex '('"),
        ({"tool": "shell", "prefix": "ls; rm", "decision": "allow"}, "plain words only"),
        ({"tool": "shell", "prefix": "  ", "decision": "allow"}, "empty pattern"),
        ({"tool": "read_file", "glob": "/etc/*", "decision": "deny"}, "relative to the workspace"),
        ({"tool": "read_file", "glob": "../x", "decision": "deny"}, "relative to the workspace"),
        ({"tool": "web_fetch", "domain": "https://x.com", "decision": "allow"}, "a host name"),
        ({"tool": "github.*", "prefix": "x", "decision": "allow"}, "'server.*' takes no prefix"),
        ({"tool": "git*hub", "decision": "allow"}, "the only wildcard"),
        ({"tool": "shell", "decision": "maybe"}, "decision"),
        ({"tool": "shell", "prefx": "ls", "decision": "allow"}, "prefx"),
        ({"tool": "shell", "prefix": "ls"}, "decision"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        RuleSpec.model_validate(data)
    assert message in str(info.value)


def test_rule_spec_of_raises_a_rule_error() -> None:
    with pytest.raises(RuleError, match="prefix rules are for"):
        RuleSpec.of("read_file", "prefix", "x", "allow")
    with pytest.raises(RuleError, match="matcher 'fuzzy'"):
        RuleSpec.of("shell", "fuzzy", "x", "allow")
    assert RuleSpec.of("shell", "any", "*", "deny").matcher == "any"


def test_reasons_name_the_rule() -> None:
    assert rule("shell", "prefix", "git status", "allow", 4).reason == (
        'rule 4: shell prefix "git status" → allow'
    )
    configured = Rule("web_fetch", "domain", "example.com", "deny", "config", index=2)
    assert configured.reason == 'config rule 2: web_fetch domain "example.com" → deny'
    assert rule("echo", "any", "*", "ask", 1).reason == "rule 1: echo (every call) → ask"
