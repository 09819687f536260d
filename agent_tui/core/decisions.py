"""The verdict for one action: the policy with stored rules, then the checks no rule can waive.

After the rules have spoken, an ``allow`` still becomes ``ask`` when:
- ``shell`` or ``python`` would run without a sandbox (``[sandbox] mode = "auto"`` and none here);
- a shell command's program is not a plain word (``$x``, ``$'sudo'``): no rule can know it;
- the rule is bound to files ("always allow" of ``./run.sh``) that changed since;
- ``write_file`` targets a protected path (``.git/``, ``.agent-tui/``, a file an allow rule runs);
- a tool says the call is riskier than its default (``web_fetch`` of a private address).
With ``[sandbox] mode = "bwrap"`` and no usable bubblewrap, shell and python are denied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_tui.config import Settings
from agent_tui.core import bindings
from agent_tui.core.commands_run import files_run, nonliteral_program
from agent_tui.core.matchers import normalise_path
from agent_tui.core.policy import PolicyDecision, decide
from agent_tui.core.rules import Rule, config_rules, load_rules
from agent_tui.core.sandbox import SANDBOXED_TOOLS, approval_note
from agent_tui.core.sandbox.wrap import status_for
from agent_tui.core.store import Store
from agent_tui.core.tools.base import Tool

PROTECTED_DIRS = frozenset({".git", ".agent-tui"})
"""Folders whose files decide what later commands run: writing into them always asks."""


async def verdict_for(
    store: Store,
    settings: Settings,
    tool: Tool,
    args: dict[str, Any],
    step_approval: str | None = None,
    *,
    workspace: Path | None = None,
) -> PolicyDecision:
    """Decide an action of ``tool`` with ``args`` in ``workspace``.

    The reason of an ``ask`` of shell or python ends with what approving it means here (the
    sandbox and its network), which the approval view shows under "why asked".
    """
    verdict = await _verdict(store, settings, tool, args, step_approval, workspace)
    note = approval_note(settings, tool.name) if verdict.decision == "ask" else None
    return replace(verdict, reason=f"{verdict.reason}; {note}") if note else verdict


async def _verdict(
    store: Store,
    settings: Settings,
    tool: Tool,
    args: dict[str, Any],
    step_approval: str | None,
    workspace: Path | None,
) -> PolicyDecision:
    stored = load_rules(store)
    verdict = decide(tool.name, tool.default_decision, args, settings, step_approval, rules=stored)
    if tool.name in SANDBOXED_TOOLS and verdict.decision != "deny":
        status = status_for(settings)
        if status.required_but_missing:
            return PolicyDecision(
                "deny", f'sandbox required ([sandbox] mode = "bwrap") but {status.detail}'
            )
    if verdict.decision == "allow":
        verdict = await _guard_allow(settings, tool.name, args, verdict, stored, workspace)
    return await _tool_risk(tool, args, verdict)


async def _tool_risk(tool: Tool, args: dict[str, Any], verdict: PolicyDecision) -> PolicyDecision:
    """Let the tool say why this call is riskier than the policy knows (``web_fetch`` of a
    loopback or private address).

    A risk turns an allow into ask, even an allow from a rule: a rule allows what it names (a
    domain), not what that name points at today. The exception is a rule the tool says covers
    the risk itself (``rule_covers_risk``: a domain rule that is literally ``127.0.0.1``). An
    ask keeps its reason and adds the risk, so the person approving sees it.
    """
    check = getattr(tool, "decision_reason", None)
    if check is None or verdict.decision == "deny":
        return verdict
    covers = getattr(tool, "rule_covers_risk", None)
    rule = verdict.rule
    if verdict.decision == "allow" and rule is not None and covers and covers(rule, args):
        return verdict
    risk = await asyncio.to_thread(check, args)  # may resolve a host name: off the loop
    if not risk:
        return verdict
    if verdict.decision == "ask":
        return PolicyDecision("ask", f"{verdict.reason}; {risk}", verdict.rule)
    if verdict.rule is not None:
        return PolicyDecision("ask", f"{risk} ({verdict.rule.label} allows the name, not that)")
    return PolicyDecision("ask", risk)


async def _guard_allow(
    settings: Settings,
    tool_name: str,
    args: dict[str, Any],
    verdict: PolicyDecision,
    stored: Sequence[Rule],
    workspace: Path | None,
) -> PolicyDecision:
    """An ``allow`` turned into ``ask`` by a check no rule can waive, or the allow unchanged."""
    if tool_name in SANDBOXED_TOOLS:
        status = status_for(settings)
        if status.asks:
            return _ask(verdict, f"no sandbox ({status.detail}): {tool_name} always asks")
    command = args.get("command")
    if tool_name == "shell" and isinstance(command, str) and (word := nonliteral_program(command)):
        return _ask(verdict, f"the program {word!r} is not a plain word: no rule allows it")
    rule = verdict.rule
    if rule is not None and rule.bound and workspace is not None:
        changed = await asyncio.to_thread(bindings.changes, workspace, rule.bound)
        if changed:
            names = ", ".join(rel for rel, _ in changed)
            detail = "\n\n".join(text for _, text in changed)
            return PolicyDecision(
                "ask", f"{names} changed since {rule.label} allowed it", rule, detail
            )
    path = args.get("path")
    if tool_name == "write_file" and isinstance(path, str):
        why = _protected(path, [*config_rules(settings), *stored])
        if why:
            return _ask(verdict, why)
    return verdict


def _ask(verdict: PolicyDecision, why: str) -> PolicyDecision:
    return replace(verdict, decision="ask", reason=f"{why} (otherwise {verdict.reason})")


def _protected(raw: str, rules: Sequence[Rule]) -> str | None:
    """Why writing ``raw`` must ask: a protected folder, or a file an allow rule runs."""
    norm, inside = normalise_path(raw)
    if not inside:
        return None
    parts = norm.split("/")
    if hit := next((p for p in parts if p in PROTECTED_DIRS), None):
        return f"{norm} is inside {hit}/, which decides what later commands run"
    for rule in rules:
        if rule.decision != "allow" or rule.tool != "shell":
            continue
        runs = set(rule.bound or ())
        if rule.matcher == "prefix":
            runs.update(files_run(rule.pattern))
        if norm in runs:
            return f"{norm} is run by {rule.label} ({rule.summary})"
    return None
