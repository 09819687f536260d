"""Stored rules through a real Store, and the ``rules`` command in-process and as a subprocess."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_tui import paths
from agent_tui.commands.common import UsageError
from agent_tui.commands.rules import cmd_rules, cmd_rules_rm
from agent_tui.config import PolicySettings, Settings
from agent_tui.core.control import NoSuchId
from agent_tui.core.policy import decide
from agent_tui.core.rules import (
    RuleError,
    RuleSpec,
    insert_rule,
    load_rules,
    propose_rule,
    remove_rule,
    save_rule,
)
from agent_tui.core.store import Store
from tests.conftest import ROOT, cli_env
from tests.helpers import the_store

RULES_CLI = [sys.executable, "-m", "agent_tui.commands.rules"]


def test_save_load_remove(store: Store, settings: Settings) -> None:
    assert load_rules(store) == ()
    spec = propose_rule("shell", {"command": "git status -s"}).spec
    saved = save_rule(store, spec)
    assert (saved.id, saved.tool, saved.matcher, saved.pattern, saved.decision, saved.source) == (
        1,
        "shell",
        "prefix",
        "git status",
        "allow",
        "user",
    )
    [loaded] = load_rules(store)
    assert loaded.reason == 'rule 1: shell prefix "git status" → allow'
    assert loaded.created_at is not None
    verdict = decide("shell", "ask", {"command": "git status"}, settings, rules=load_rules(store))
    assert (verdict.decision, verdict.reason) == ("allow", loaded.reason)

    event = store.one("SELECT * FROM events WHERE kind = 'rule.added'")
    assert event is not None and event["message"].startswith("rule 1: shell prefix")
    assert json.loads(event["data"])["pattern"] == "git status"

    removed = remove_rule(store, 1)
    assert removed.pattern == "git status"
    assert load_rules(store) == ()
    assert store.one("SELECT * FROM events WHERE kind = 'rule.removed'") is not None
    verdict = decide("shell", "ask", {"command": "git status"}, settings, rules=load_rules(store))
    assert verdict.decision == "ask"


def test_saving_the_same_rule_twice_keeps_one(store: Store) -> None:
    spec = RuleSpec(tool="read_file", glob="docs/**", decision="allow")
    first, second = save_rule(store, spec), save_rule(store, spec)
    assert first.id == second.id
    assert len(load_rules(store)) == 1
    assert store.one("SELECT count(*) AS n FROM events WHERE kind = 'rule.added'") == {"n": 1}


def test_removing_an_unknown_rule_explains_config_rules(store: Store) -> None:
    with pytest.raises(RuleError, match=r"no stored rule 7 .*\[\[policy.rules\]\]"):
        remove_rule(store, 7)


def test_insert_rule_joins_the_callers_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as tx:
        insert_rule(tx, RuleSpec(tool="echo", decision="allow"))
        raise RuntimeError("rolled back")
    assert load_rules(store) == ()
    assert store.one("SELECT count(*) AS n FROM events WHERE kind = 'rule.added'") == {"n": 0}


def test_load_rules_is_cached_until_a_change(store: Store) -> None:
    save_rule(store, RuleSpec(tool="echo", decision="allow"))
    first = load_rules(store)
    assert load_rules(store) is first
    remove_rule(store, first[0].id or 0)
    save_rule(store, RuleSpec(tool="echo", decision="deny"))
    again = load_rules(store)
    assert again is not first
    assert [r.decision for r in again] == ["deny"]


def test_another_connection_sees_changes(store: Store, home: Path) -> None:
    other = store.reopen()
    try:
        assert load_rules(other) == ()
        save_rule(store, RuleSpec(tool="shell", prefix="make", decision="allow"))
        assert [r.pattern for r in load_rules(other)] == ["make"]
        remove_rule(other, 1)
        assert load_rules(store) == ()
    finally:
        other.close()


def test_a_hand_edited_broken_row_is_skipped(store: Store) -> None:
    save_rule(store, RuleSpec(tool="shell", prefix="make", decision="allow"))
    with store.write() as tx:
        tx.execute(
            "INSERT INTO rules (tool, matcher, pattern, decision, source, created_at)"
            " VALUES ('shell', 'regex', '(', 'allow', 'user', 0)"
        )
        tx.execute("UPDATE settings SET value = '99' WHERE key = 'rules_version'")
    assert [r.pattern for r in load_rules(store)] == ["make"]


# -- the command, in-process -------------------------------------------------------------------


def test_cmd_rules_lists_stored_rules(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_rules(argparse.Namespace(json=False)) == 0
    assert "no rules" in capsys.readouterr().out
    save_rule(store, RuleSpec(tool="shell", prefix="git status", decision="allow"))
    save_rule(store, RuleSpec(tool="web_fetch", domain="example.com", decision="deny"), "cli")
    assert cmd_rules(argparse.Namespace(json=True)) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [
        (r["id"], r["tool"], r["matcher"], r["pattern"], r["decision"], r["source"]) for r in listed
    ] == [
        (1, "shell", "prefix", "git status", "allow", "user"),
        (2, "web_fetch", "domain", "example.com", "deny", "cli"),
    ]
    assert cmd_rules(argparse.Namespace(json=False)) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == [
        "ID", "TOOL", "MATCHER", "PATTERN", "DECISION", "SOURCE", "ADDED"
    ]  # fmt: skip
    assert "git status" in text and "example.com" in text


def test_cmd_rules_rm(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    save_rule(store, RuleSpec(tool="shell", prefix="git status", decision="allow"))
    assert cmd_rules_rm(argparse.Namespace(id="1")) == 0
    assert capsys.readouterr().out.strip() == 'removed rule 1: shell prefix "git status" → allow'
    with pytest.raises(NoSuchId, match="no stored rule 1"):
        cmd_rules_rm(argparse.Namespace(id="1"))
    with pytest.raises(UsageError, match="not a rule id"):
        cmd_rules_rm(argparse.Namespace(id="x"))
    with pytest.raises(UsageError, match="config file"):
        cmd_rules_rm(argparse.Namespace(id="config 2"))


@pytest.mark.skipif(
    "rules" not in PolicySettings.model_fields, reason="[[policy.rules]] is not wired yet"
)
def test_cmd_rules_lists_config_rules_first(
    store: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[[policy.rules]]\ntool = "shell"\nprefix = "make"\ndecision = "allow"\n', encoding="utf-8"
    )
    save_rule(store, RuleSpec(tool="echo", decision="ask"))
    assert cmd_rules(argparse.Namespace(json=True)) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["label"], r["source"]) for r in listed] == [
        ("config rule 1", "config"),
        ("rule 1", "user"),
    ]


# -- the command, as a program -----------------------------------------------------------------


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RULES_CLI, *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_rules_command_as_a_subprocess(home: Path) -> None:
    store = the_store(home)
    try:
        save_rule(store, RuleSpec(tool="shell", prefix="git status", decision="allow"))
        save_rule(store, RuleSpec(tool="github.*", decision="ask"))
    finally:
        store.close()

    out = run(home, "--json")
    assert out.returncode == 0, out.stderr
    assert [r["tool"] for r in json.loads(out.stdout)] == ["shell", "github.*"]

    out = run(home)
    assert out.returncode == 0 and "github.*" in out.stdout

    out = run(home, "rm", "2")
    assert (out.returncode, out.stdout.strip()) == (
        0,
        "removed rule 2: github.* (every call) → ask",
    )

    out = run(home, "rm", "2")
    assert out.returncode == 4 and "Traceback" not in out.stderr
    assert out.stderr.startswith("agent-tui: error: no stored rule 2")
    assert len(out.stderr.strip().splitlines()) == 1

    out = run(home, "rm", "two")
    assert out.returncode == 2 and "not a rule id" in out.stderr

    out = run(home, "--json")
    assert [r["id"] for r in json.loads(out.stdout)] == [1]
