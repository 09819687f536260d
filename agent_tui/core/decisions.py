"""The verdict for one action: the policy with stored rules, plus a tool's own risk checks."""

from __future__ import annotations

import asyncio
from typing import Any

from agent_tui.config import Settings
from agent_tui.core.policy import PolicyDecision, decide
from agent_tui.core.rules import load_rules
from agent_tui.core.store import Store
from agent_tui.core.tools.base import Tool


async def verdict_for(
    store: Store,
    settings: Settings,
    tool: Tool,
    args: dict[str, Any],
    step_approval: str | None = None,
) -> PolicyDecision:
    """Decide an action, then let the tool say why this call is riskier than the policy knows
    (``web_fetch`` of a loopback or private address).

    A risk turns an allow into ask, even an allow from a rule: a rule allows what it names (a
    domain), not what that name points at today. The exception is a rule the tool says covers
    the risk itself (``rule_covers_risk``: a domain rule that is literally ``127.0.0.1``). An
    ask keeps its reason and adds the risk, so the person approving sees it.
    """
    verdict = decide(
        tool.name, tool.default_decision, args, settings, step_approval, rules=load_rules(store)
    )
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
