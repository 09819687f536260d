"""Policy rules: their config shape, the stored ``rules`` table, and "always allow" proposals.

A rule is ``(tool, matcher, pattern, decision)``. Config rules come from ``[[policy.rules]]``
(:class:`RuleSpec`); stored rules are rows of ``rules``, written by "always allow" with source
``user``. :func:`load_rules` is cheap enough to call for every decision: it re-reads the table only
when ``rules_version`` (bumped in the same transaction as every change) has moved.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_tui.core.matchers import (
    COMMAND_ARGS,
    OPERATORS,
    PATH_TOOLS,
    URL_TOOLS,
    Call,
    RuleError,
    Test,
    compile_test,
    normalise_path,
    strict_host,
)

if TYPE_CHECKING:  # the config imports this module, and reads no database: the store comes late
    from agent_tui.core.store import Store, Tx

__all__ = [
    "Proposal",
    "Rule",
    "RuleError",
    "RuleSpec",
    "config_rules",
    "insert_rule",
    "load_rules",
    "propose_rule",
    "remove_rule",
    "save_rule",
]

Decision = Literal["allow", "ask", "deny"]
Matcher = Literal["prefix", "regex", "glob", "domain", "any"]
_KEYS: tuple[Matcher, ...] = ("prefix", "regex", "glob", "domain")
log = logging.getLogger(__name__)


class RuleSpec(BaseModel):
    """One ``[[policy.rules]]`` entry: a tool, at most one matcher, and a decision.

    ``tool = "shell"; prefix = "git status"; decision = "allow"``. With no matcher the rule covers
    every call of the tool (``tool = "github.*"`` covers every tool of the MCP server ``github``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1)
    """``shell``, ``python``, ``read_file``, ``web_fetch``…, an MCP tool ``server.tool``, or ``server.*``."""
    decision: Decision
    """``allow``, ``ask`` or ``deny``. Deny rules win over ask rules, which win over allow rules."""
    prefix: str | None = None
    """Shell or python: the command starts with these whole words, e.g. ``git status``. An allow
    never covers a command containing ``;``, ``&&``, ``||``, ``|``, backquotes, ``$(``, ``<``,
    ``>`` or a newline."""
    regex: str | None = None
    """Shell or python: the whole command (or code) matches this regular expression."""
    glob: str | None = None
    """read_file, write_file, list_files: the path, relative to the workspace, matches this glob
    (``*`` stays within a folder, ``**`` crosses folders; ``docs/**`` is docs and all below)."""
    domain: str | None = None
    """web_fetch, web_search: the URL's host is this domain or one of its subdomains."""

    @property
    def matcher(self) -> Matcher:
        return next((k for k in _KEYS if getattr(self, k) is not None), "any")

    @property
    def pattern(self) -> str:
        matcher = self.matcher
        return "*" if matcher == "any" else str(getattr(self, matcher))

    @model_validator(mode="after")
    def _valid(self) -> RuleSpec:
        given = [k for k in _KEYS if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"one matcher per rule, not {' and '.join(given)}")
        compile_test(self.tool, self.matcher, self.pattern, self.decision)
        return self

    @classmethod
    def of(cls, tool: str, matcher: str, pattern: str, decision: str) -> RuleSpec:
        """The spec for a ``(tool, matcher, pattern, decision)`` row; raises :class:`RuleError`."""
        if matcher not in (*_KEYS, "any"):
            raise RuleError(f"matcher {matcher!r}: not prefix, regex, glob, domain or any")
        data: dict[str, Any] = {"tool": tool, "decision": decision}
        if matcher != "any":
            data[matcher] = pattern
        try:
            return cls.model_validate(data)
        except ValueError as exc:
            raise RuleError(_first_error(exc)) from None

    def describe(self) -> str:
        """``shell prefix "git status" → allow``."""
        return describe(self.tool, self.matcher, self.pattern, self.decision)


def describe(tool: str, matcher: str, pattern: str, decision: str) -> str:
    what = "(every call)" if matcher == "any" else f"{matcher} {_quote(pattern)}"
    return f"{tool} {what} → {decision}"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"').replace("\n", "\\n") + '"'


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("ctx", {}).get("error") or first["msg"])
    return str(exc)


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """A compiled rule: from config (``index``, 1-based) or from the database (``id``)."""

    tool: str
    matcher: Matcher
    pattern: str
    decision: Decision
    source: str
    id: int | None = None
    index: int | None = None
    created_at: float | None = None
    bound: Mapping[str, Mapping[str, Any]] | None = None
    """Files of the workspace this allow is bound to (see :mod:`agent_tui.core.bindings`)."""
    test: Test = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "test", compile_test(self.tool, self.matcher, self.pattern, self.decision)
        )

    @classmethod
    def from_spec(cls, spec: RuleSpec, source: str, **where: Any) -> Rule:
        return cls(spec.tool, spec.matcher, spec.pattern, spec.decision, source, **where)

    @property
    def label(self) -> str:
        """``rule 4`` (database) or ``config rule 2`` (the second ``[[policy.rules]]``)."""
        return f"rule {self.id}" if self.id is not None else f"config rule {self.index}"

    @property
    def summary(self) -> str:
        return describe(self.tool, self.matcher, self.pattern, self.decision)

    @property
    def reason(self) -> str:
        """``rule 4: shell prefix "git status" → allow``."""
        return f"{self.label}: {self.summary}"

    def spec(self) -> RuleSpec:
        return RuleSpec.of(self.tool, self.matcher, self.pattern, self.decision)

    def applies_to(self, tool: str) -> bool:
        return self.tool == tool or (self.tool.endswith(".*") and tool.startswith(self.tool[:-1]))

    def matches(self, tool: str, args: dict[str, Any]) -> bool:
        """Whether this rule covers a call of ``tool`` with ``args``."""
        return self.applies_to(tool) and self.test(Call(tool, args))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": self.index,
            "label": self.label,
            "tool": self.tool,
            "matcher": self.matcher,
            "pattern": self.pattern,
            "decision": self.decision,
            "source": self.source,
            "created_at": self.created_at,
            "bound_to": sorted(self.bound or ()),
        }


# -- proposals -----------------------------------------------------------------------------------

_REGEX_SPECIAL = re.compile(r"[.^$*+?{}\[\]\\|()]")
_PLAIN_WORD = re.compile(r"[\w./+@%:,-]+")
_SUBCOMMAND = re.compile(r"[A-Za-z][\w.+-]*")
_EXACT_ONLY = frozenset(
    "sh bash zsh dash ksh fish python python3 node deno perl ruby php lua env xargs eval exec"  # noqa: SIM905
    " nohup time timeout nice watch ssh scp rsync sudo doas su rm rmdir mv dd shred chmod chown"
    " kill killall pkill truncate find".split()
)
"""Commands whose first words say too little about what they do: proposed as the exact command."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """The rule "always allow" would save, and what else it would allow, in words."""

    spec: RuleSpec
    description: str
    bound: Mapping[str, Mapping[str, Any]] | None = None
    """The files the command runs, as they are now: the rule allows them only unchanged."""


def propose_rule(tool_name: str, args: Mapping[str, Any]) -> Proposal:
    """The narrowest useful allow rule covering this call; raises :class:`RuleError` if none."""
    if tool_name in COMMAND_ARGS:
        proposal = _propose_command(tool_name, args.get(COMMAND_ARGS[tool_name]))
        if args.get("env"):
            note = ", when run without extra environment variables (calls that set env still ask)"
            return Proposal(proposal.spec, proposal.description + note)
        return proposal
    if tool_name in PATH_TOOLS:
        return _propose_path(tool_name, args)
    if tool_name in URL_TOOLS and (host := strict_host(args.get("url"))):
        spec = RuleSpec.of(tool_name, "domain", host, "allow")
        return Proposal(spec, f"any URL on {host} or its subdomains")
    spec = RuleSpec.of(tool_name, "any", "*", "allow")
    return Proposal(spec, f"every call of {tool_name}, whatever its arguments")


def _propose_command(tool_name: str, text: Any) -> Proposal:
    if not isinstance(text, str) or not text.strip():
        raise RuleError(f"{tool_name}: no {COMMAND_ARGS[tool_name]} to base a rule on")
    what = "command" if tool_name == "shell" else "code"
    words = text.split()
    first = words[0]
    if (
        tool_name != "shell"
        or OPERATORS.search(text)
        or not _PLAIN_WORD.fullmatch(first)
        or "=" in first
        or first.startswith("-")
        or posixpath.basename(first) in _EXACT_ONLY
    ):
        spec = RuleSpec.of(tool_name, "regex", _REGEX_SPECIAL.sub(r"\\\g<0>", text), "allow")
        return Proposal(spec, f"only this exact {what}, nothing else")
    prefix = first
    if len(words) > 1 and _SUBCOMMAND.fullmatch(words[1]):
        prefix = f"{first} {words[1]}"
    spec = RuleSpec.of(tool_name, "prefix", prefix, "allow")
    return Proposal(spec, f"every command starting with `{prefix}`")


def _glob_escape(text: str) -> str:
    return re.sub(r"[][*?]", lambda m: f"[{m.group(0)}]", text)


def _propose_path(tool_name: str, args: Mapping[str, Any]) -> Proposal:
    raw = args.get("path", "." if tool_name == "list_files" else None)
    if not isinstance(raw, str) or not raw.strip():
        raise RuleError(f"{tool_name}: no path to base a rule on")
    norm, inside = normalise_path(raw)
    if not inside:
        raise RuleError(f"{tool_name}: {raw!r} is not a path relative to the workspace")
    folder = norm if tool_name == "list_files" else posixpath.dirname(norm)
    if folder in ("", "."):
        if tool_name == "list_files":
            return Proposal(
                RuleSpec.of(tool_name, "glob", "**", "allow"), "any path in the workspace"
            )
        spec = RuleSpec.of(tool_name, "glob", "*", "allow")
        return Proposal(spec, "any file at the top of the workspace (not in its folders)")
    glob = f"{_glob_escape(folder)}/**"
    return Proposal(RuleSpec.of(tool_name, "glob", glob, "allow"), f"any path under {glob}")


# -- config and storage --------------------------------------------------------------------------

_config_cache: tuple[tuple[object, ...], tuple[Rule, ...]] = ((), ())


def config_rules(settings: Any) -> tuple[Rule, ...]:
    """The compiled ``settings.policy.rules`` (RuleSpec or dicts), cached while the list holds."""
    global _config_cache
    specs: Sequence[object] = getattr(settings.policy, "rules", None) or ()
    key, rules = _config_cache
    if len(key) == len(specs) and all(a is b for a, b in zip(key, specs, strict=True)):
        return rules
    compiled = []
    for index, raw in enumerate(specs, start=1):
        spec = raw if isinstance(raw, RuleSpec) else RuleSpec.model_validate(raw)
        compiled.append(Rule.from_spec(spec, "config", index=index))
    _config_cache = (tuple(specs), tuple(compiled))
    return _config_cache[1]


def insert_rule(
    tx: Tx,
    spec: RuleSpec,
    source: str = "user",
    bound: Mapping[str, Mapping[str, Any]] | None = None,
) -> Rule:
    """Store ``spec`` inside an open transaction (an identical stored rule is reused, bound to
    ``bound`` when given: the person has just approved the files as they are now)."""
    from agent_tui.core.store import rules as stored

    same = stored.find_same(tx, spec.tool, spec.matcher, spec.pattern, spec.decision)
    encoded = json.dumps(dict(bound)) if bound else None
    if same is not None:
        if encoded is not None and same.get("bound") != encoded:
            stored.set_bound(tx, same["id"], encoded)
            same = {**same, "bound": encoded}
        return _from_row(same)
    rule_id = stored.insert(
        tx,
        tool=spec.tool,
        matcher=spec.matcher,
        pattern=spec.pattern,
        decision=spec.decision,
        source=source,
        bound=encoded,
    )
    rule = Rule.from_spec(spec, source, id=rule_id, created_at=tx.now, bound=bound)
    tx.event("rule.added", f"{rule.reason} (added by {source})", rule_id=rule_id, **_fields(rule))
    return rule


def save_rule(store: Store, spec: RuleSpec, source: str = "user") -> Rule:
    """Store ``spec`` in one transaction with a ``rule.added`` event; return the stored rule."""
    with store.write() as tx:
        return insert_rule(tx, spec, source)


def remove_rule(store: Store, rule_id: int) -> Rule:
    """Delete a stored rule (with a ``rule.removed`` event); config rules are not in the table."""
    from agent_tui.core.store import rules as stored

    with store.write() as tx:
        row = stored.rule(tx, rule_id)
        if row is None:
            raise RuleError(
                f"no stored rule {rule_id} (see `agent-tui rules`; rules from the config file "
                "are removed by editing its [[policy.rules]])"
            )
        stored.delete(tx, rule_id)
        rule = _from_row(row)
        tx.event("rule.removed", f"{rule.reason} removed", rule_id=rule_id, **_fields(rule))
        return rule


_stored_cache: weakref.WeakKeyDictionary[Store, tuple[object, tuple[Rule, ...]]] = (
    weakref.WeakKeyDictionary()
)


def load_rules(store: Store) -> tuple[Rule, ...]:
    """The stored rules in id order; one indexed read when nothing changed since the last call.

    A row that no longer compiles (edited by hand) is left out and logged, never fatal.
    """
    from agent_tui.core.store import rules as stored

    version = stored.version(store)
    cached = _stored_cache.get(store)
    if cached is not None and cached[0] == version:
        return cached[1]
    rules = []
    for raw in stored.all_rules(store):
        try:
            rules.append(_from_row(raw))
        except (RuleError, KeyError) as exc:
            log.warning("rule %s ignored: %s", raw["id"], exc)
    _stored_cache[store] = (version, tuple(rules))
    return _stored_cache[store][1]


def _from_row(row: Mapping[str, Any]) -> Rule:
    return Rule(
        row["tool"],
        row["matcher"],
        row["pattern"],
        row["decision"],
        row["source"],
        id=row["id"],
        created_at=row["created_at"],
        bound=json.loads(row["bound"]) if row.get("bound") else None,
    )


def _fields(rule: Rule) -> dict[str, Any]:
    return {
        "tool": rule.tool,
        "matcher": rule.matcher,
        "pattern": rule.pattern,
        "decision": rule.decision,
        "source": rule.source,
    }
