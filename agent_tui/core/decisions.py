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
    """Decide an action. A tool may say why a call is riskier than its default (``web_fetch`` of a
    loopback or private address): then an allow that no rule gave explicitly becomes ask."""
    verdict = decide(
        tool.name, tool.default_decision, args, settings, step_approval, rules=load_rules(store)
    )
    check = getattr(tool, "decision_reason", None)
    if check is None or verdict.decision != "allow" or verdict.rule is not None:
        return verdict
    risk = await asyncio.to_thread(check, args)  # may resolve a host name: off the loop
    return PolicyDecision("ask", risk) if risk else verdict
