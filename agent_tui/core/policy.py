"""Decides ``allow``, ``ask`` or ``deny`` for every action, with the sentence that explains it.

Order: the hard-deny list (on ``command`` and ``code``) → ``deny`` rules and ``[policy.tools]``
denies → ``ask`` rules → ``allow`` rules → the ``[policy.tools]`` decision → the tool's default.
A recipe step's ``approval = "ask"`` then turns an ``allow`` into ``ask`` (never a deny into
anything). Config rules (``[[policy.rules]]``) always apply; stored rules are passed in ``rules``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_tui.core.matchers import Call
from agent_tui.core.rules import Rule, config_rules

if TYPE_CHECKING:
    from agent_tui.config import Settings

_SEP = (
    r"(?:^|[;&|(){}\[`!\n]|\$\(|\s-(?:exec|execdir|ok|okdir)\s)\s*"
    r"(?:(?:then|do|else|elif|if|while|until|!)\s+)*"
)
_WRAPPER = (
    r"(?:exec|env|nohup|time|xargs|nice|ionice|timeout|command|builtin|eval|watch|stdbuf|setsid"
    r"|strace|ltrace|unbuffer|chrt|taskset|busybox|(?:ba|z|da|k|fi)?sh\s+-[a-z]*c)"
)
_ASSIGNS = r"(?:\w+=\S*\s+)*"
_CMD = (
    _SEP
    + _ASSIGNS
    + rf"(?:(?:\S*/)?{_WRAPPER}(?![\w.-])(?:\s+(?:[-+]\S*|\d\S*|\w+=\S*))*\s+{_ASSIGNS})*"
    + r"(?:\S*/)?"
)
"""What may stand before a command name: a separator, assignments, wrappers, a directory."""
_END = r"(?=\s|$|[;&|)}])"
_GAP = r"[^;&|\n]{0,512}"
"""Arguments between a command and what makes it dangerous; bounded to keep matching linear."""
_HOME = r"(?:~[\w.-]*|\$HOME|\$\{HOME\}|/root|/home/[^/\s]+|/Users/[^/\s]+)"
_DISK = r"/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|disk\d|dm-\d|md\d|mapper/)"


@dataclass(frozen=True, slots=True)
class HardDeny:
    """One entry of the hard-deny list: a cheap hint, the real pattern, and the reason."""

    hint: re.Pattern[str]
    """Found wherever ``pattern`` matches; most text fails this quick test and skips the rest."""
    pattern: re.Pattern[str]
    reason: str


def _entry(hint: str, pattern: str, reason: str) -> HardDeny:
    # Runs at import only, before mutation testing can switch a mutant on: nothing to mutate.
    return HardDeny(re.compile(hint), re.compile(pattern), reason)  # pragma: no mutate


HARD_DENY: list[HardDeny] = [
    _entry(
        r"sudo|doas|pkexec|run0",
        _CMD + r"(?:sudo|sudoedit|doas|pkexec|run0)(?![\w.-])",
        "sudo is never run",
    ),
    _entry(r"su\b", _CMD + r"su(?=\s|$|[;&|,\]])", "su is never run"),
    _entry(
        r"mk|wipefs",
        r"\b(?:mkfs(?:\.\w+)?|mke2fs|mkswap|wipefs)(?![\w-])",
        "formatting a filesystem is never run",
    ),
    _entry(
        r"dd\b",
        rf"\bdd\b{_GAP}\bof=\s*/dev/(?!null\b|zero\b|std(?:out|err)\b|fd/|tty\b)",
        "dd onto a device is never run",
    ),
    _entry(
        r"/dev/",
        rf"(?:>|\btee\s(?:{_GAP}\s)?)\s*{_DISK}",
        "writing onto a disk device is never run",
    ),
    _entry(
        r"rm\s",
        rf"\brm\s(?:{_GAP}\s)?(?:(?:/|~|\$HOME|\$\{{HOME\}})/?\*?"
        r"|/(?:home|Users)(?:/[^/\s;&|]+)?/?\*?"
        r"|/(?:root|bin|boot|dev|etc|lib|lib64|opt|sbin|srv|usr|var)/?\*?)" + _END,
        "removing / or the home directory is never run",
    ),
    _entry(r"preserve-root", r"--no-preserve-root", "removing / is never run"),
    _entry(
        r"find\s",
        rf"\bfind\s+(?:/|~|\$HOME|\$\{{HOME\}})/?\s{_GAP}-delete\b",
        "deleting everything under / or the home directory is never run",
    ),
    _entry(
        r"rmtree",
        r"\brmtree\(\s*(?:/|~/?|\$HOME|Path\.home\(\)|os\.path\.expanduser\(~/?\))\s*[,)]",
        "removing / or the home directory is never run",
    ),
    _entry(
        r"ch(?:mod|own|grp)\s",
        rf"\b(?:chmod|chown|chgrp)\s{_GAP}\s/\*?" + _END,
        "changing the permissions of / is never run",
    ),
    _entry(
        r"\|[^|&\n]{0,40}&|fork",
        r"(?<![\w:.-])(?P<bomb>[\w:.-]+)\s*\(\s*\)\s*\{[^}]{0,200}?(?P=bomb)\s*\|\s*(?P=bomb)\s*&"
        r"|\bfunction\s+(?P<fn>[\w:.-]+)\s*(?:\(\s*\))?\s*\{[^}]{0,200}?(?P=fn)\s*\|\s*(?P=fn)\s*&"
        r"|\bfork\s+while\s+fork\b"
        r"|\bwhile\s+(?:True|1)\s*:[^\n]{0,80}\n?\s*(?:os\.)?fork\(\)",
        "a fork bomb is never run",
    ),
    _entry(
        r"ssh|gnupg|aws|azure|kube|docker|netrc|pgpass|credentials|password|vault|config/|keyrings",
        _HOME + r"/\.(?:ssh|gnupg|aws|azure|kube|docker|netrc|pgpass|git-credentials"
        r"|password-store|vault-token|config/gcloud|config/gh|local/share/keyrings)(?![\w-])"
        r"|(?:^|[\s=:,(\[{])\.(?:ssh|gnupg|aws|password-store)(?=/|\s|$|[,;&|)\]}])"
        r"|\bhome\(\)\s*/\s*\.?(?:ssh|gnupg|aws)\b",
        "secret stores (~/.ssh and the like) are never read",
    ),
    _entry(
        r"/etc/",
        r"/etc/(?:shadow|gshadow|sudoers|master\.passwd|ssh/ssh_host_\w+_key(?!\.pub))",
        "system secret files are never touched",
    ),
    _entry(
        r"shutdown|reboot|halt|poweroff|init\s|systemctl",
        _CMD + r"(?:shutdown|reboot|halt|poweroff|init\s+[06]|systemctl\s+(?:poweroff|reboot|halt))"
        r"(?=\s+[-+\w]|\s*$|\s*[;&|])",
        "shutting the machine down is never run",
    ),
    _entry(
        r"kill\s",
        r"\bkill\s+(?:-\S+\s+)+(?:--\s+)?-1" + _END,
        "killing every process is never run",
    ),
]
"""Always denied, whatever any rule or setting says; checked on ``command`` and ``code``."""

_KEYWORDS = re.compile("|".join(entry.hint.pattern for entry in HARD_DENY))
"""Every hint at once (flat, so the regex engine can skip ahead): no hint, no deny."""
_UNQUOTE = re.compile(r"\\\n|[\\'\"]")
_IFS = re.compile(r"\$\{?IFS\}?")


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The verdict for one action, the sentence that explains it, and the rule behind it if any."""

    decision: str
    reason: str
    rule: Rule | None = None
    detail: str | None = None
    """More for the approval view: what changed in a file a rule is bound to."""


def hard_denied(text: str) -> str | None:
    """The reason ``text`` (a command or code) is on the hard-deny list, or ``None``.

    The text is also read with quotes, backslashes and ``$IFS`` removed, as a shell would join
    ``s'u'do`` or ``su\\do`` into ``sudo``.
    """
    plain = _IFS.sub(" ", _UNQUOTE.sub("", text))
    for candidate in (text, plain) if plain != text else (text,):
        if _KEYWORDS.search(candidate):
            for entry in HARD_DENY:
                if entry.hint.search(candidate) and entry.pattern.search(candidate):
                    return entry.reason
    return None


class _Level:
    """The rules of one decision for one tool: prefix rules by first word, the others in order."""

    __slots__ = ("by_word", "others", "strict")

    def __init__(self, ranked: list[tuple[int, Rule]], strict: bool) -> None:
        self.strict = strict
        self.by_word: dict[str, list[tuple[int, Rule]]] = {}
        self.others: list[tuple[int, Rule]] = []
        for rank, rule in ranked:
            if rule.matcher == "prefix":
                first = rule.pattern.split()[0]
                key = first if strict else first.rsplit("/", 1)[-1]
                self.by_word.setdefault(key, []).append((rank, rule))
            else:
                self.others.append((rank, rule))

    def first(self, call: Call) -> Rule | None:
        best: tuple[int, Rule] | None = None
        for rank, rule in self.others:
            if rule.test(call):
                best = (rank, rule)
                break
        if self.by_word:
            if self.strict:
                words = call.words()
                heads = words[:1] if words else []
            else:
                heads = list(dict.fromkeys(seg[0] for seg in call.segments()))
            for head in heads:
                for rank, rule in self.by_word.get(head, ()):
                    if best is not None and rank >= best[0]:
                        break
                    if rule.test(call):
                        best = (rank, rule)
                        break
        return best[1] if best is not None else None


class _Index:
    """Rules grouped by tool and decision, built once per rule set and reused across decisions."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.by_tool: dict[str, tuple[_Level, ...]] = {}

    def levels(self, tool: str) -> tuple[_Level, ...]:
        found = self.by_tool.get(tool)
        if found is None:
            mine = [(rank, r) for rank, r in enumerate(self.rules) if r.applies_to(tool)]
            found = tuple(
                _Level(
                    [(rank, r) for rank, r in mine if r.decision == decision], decision == "allow"
                )
                for decision in ("deny", "ask", "allow")
            )
            found = tuple(level for level in found if level.by_word or level.others)
            self.by_tool[tool] = found
        return found

    def match(self, tool: str, args: dict[str, Any]) -> Rule | None:
        levels = self.levels(tool)
        if not levels:
            return None
        call = Call(tool, args)
        for level in levels:
            if (rule := level.first(call)) is not None:
                return rule
        return None


_indexes: list[tuple[tuple[Rule, ...], Sequence[Rule], _Index]] = []


def _index(configured: tuple[Rule, ...], stored: Sequence[Rule]) -> _Index:
    """The index for these two rule sets, reused while the same objects come back."""
    for a, b, index in _indexes:
        if a is configured and b is stored:
            return index
    index = _Index([*configured, *stored])
    _indexes.insert(0, (configured, stored, index))
    del _indexes[8:]
    return index


def decide(
    tool_name: str,
    default: str,
    args: dict[str, Any],
    settings: Settings,
    step_approval: str | None = None,
    *,
    rules: Sequence[Rule] | None = None,
) -> PolicyDecision:
    """Decide one action of ``tool_name`` with ``args``.

    ``rules`` are the stored rules (``load_rules(store)``); the config's ``[[policy.rules]]`` come
    from ``settings`` and always apply, ahead of stored rules of the same decision.
    """
    for key in ("command", "code"):
        text = args.get(key)
        if isinstance(text, str) and (why := hard_denied(text)):
            return PolicyDecision("deny", f"hard-deny list: {why}")
    configured = settings.policy.tools.get(tool_name)
    if configured == "deny":
        return PolicyDecision("deny", f'config: [policy.tools] {tool_name} = "deny"')
    hit = _index(config_rules(settings), rules if rules is not None else ()).match(tool_name, args)
    decision: str
    if hit is not None:
        decision, reason = hit.decision, hit.reason
    elif configured is not None:
        decision, reason = configured, f'config: [policy.tools] {tool_name} = "{configured}"'
    else:
        decision, reason = default, f"default for {tool_name}"
    if step_approval == "ask" and decision == "allow":
        return PolicyDecision("ask", f"the recipe step asks for approval (otherwise {reason})", hit)
    return PolicyDecision(decision, reason, hit)
