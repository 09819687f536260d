"""Decides ``allow``, ``ask`` or ``deny`` for every action.

Order: the hard-deny list always wins; then a ``deny`` from config; then the recipe step's own
``approval = "ask"`` or a config decision; then the tool's default. Pattern rules and "always allow"
build on this in the tools-and-safety work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent_tui.config import Settings

_WORD_START = r"(?:^|[;&|(`]|\$\(|\bthen\b|\bdo\b|\bexec\b|\bxargs\b|\benv\b|\bnohup\b|\btime\b)\s*"

HARD_DENY: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_WORD_START + r"sudo\b"), "sudo is never run"),
    (re.compile(_WORD_START + r"su\b(?!\S)"), "su is never run"),
    (re.compile(_WORD_START + r"doas\b"), "doas is never run"),
    (re.compile(r"\bmkfs(\.\w+)?\b"), "formatting a filesystem is never run"),
    (re.compile(r"\bdd\b[^;&|]*\bof=/dev/"), "dd onto a device is never run"),
    (re.compile(r">\s*/dev/(sd|nvme|hd|vd|xvd|mmcblk)"), "writing onto a disk device is never run"),
    (
        re.compile(r"\brm\s+(-[A-Za-z-]+\s+)*(/|/\*|~/?|\$HOME/?|\"\$HOME\"/?|/home/?)(\s|$|;)"),
        "removing / or the home directory is never run",
    ),
    (re.compile(r"--no-preserve-root"), "removing / is never run"),
    (re.compile(r":\s*\(\s*\)\s*\{.*:\s*\|\s*:\s*&.*\}\s*;\s*:"), "a fork bomb is never run"),
    (
        re.compile(
            r"(~|\$HOME|/root|/home/[^/\s]+)/\.(ssh|gnupg|aws|kube|docker|netrc|password-store)"
        ),
        "secret stores (~/.ssh and the like) are never read",
    ),
    (re.compile(r"/etc/(shadow|gshadow|sudoers)"), "system secret files are never touched"),
    (
        re.compile(_WORD_START + r"(shutdown|reboot|halt|poweroff)\b"),
        "shutting the machine down is never run",
    ),
    (re.compile(r"\bchmod\s+(-R\s+)?[0-7]*777\s+/(\s|$)"), "chmod 777 / is never run"),
]


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The verdict for one action and the sentence that explains it."""

    decision: str
    reason: str


def hard_denied(text: str) -> str | None:
    """The reason ``text`` (a command or code) is on the hard-deny list, or ``None``."""
    for pattern, reason in HARD_DENY:
        if pattern.search(text):
            return reason
    return None


def decide(
    tool_name: str,
    default: str,
    args: dict[str, Any],
    settings: Settings,
    step_approval: str | None = None,
) -> PolicyDecision:
    """Decide one action of ``tool_name`` with ``args``."""
    for key in ("command", "code"):
        text = args.get(key)
        if isinstance(text, str) and (reason := hard_denied(text)):
            return PolicyDecision("deny", f"hard-deny list: {reason}")
    configured = settings.policy.tools.get(tool_name)
    if configured == "deny":
        return PolicyDecision("deny", f'config: [policy.tools] {tool_name} = "deny"')
    if step_approval == "ask":
        return PolicyDecision("ask", "the recipe step asks for approval")
    if configured is not None:
        return PolicyDecision(configured, f'config: [policy.tools] {tool_name} = "{configured}"')
    return PolicyDecision(default, f"default for {tool_name}")
