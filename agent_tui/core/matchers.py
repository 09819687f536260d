"""What a policy rule looks at in one call, and the compiled test of each matcher kind.

A :class:`Call` computes, once and only when a rule asks, the words of a command, its segments,
a normalised path or a URL host. :func:`compile_test` turns ``(tool, matcher, pattern, decision)``
into a function of a :class:`Call`, raising :class:`RuleError` for a rule that cannot work.

Allow rules read strictly (a prefix never covers a compound command, a glob never covers a path
outside the workspace, a domain never covers a URL an HTTP client could read differently); deny
and ask rules read loosely (a prefix matches any segment of a compound command, a glob any tail of
an absolute path), so that doubt always falls on the cautious side.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

COMMAND_ARGS = {"shell": "command", "python": "code"}
"""Tools whose prefix and regex rules read one text argument: the command, or the code."""
PATH_TOOLS = frozenset({"read_file", "write_file", "list_files"})
"""Tools whose glob rules read the ``path`` argument, relative to the workspace."""
URL_TOOLS = frozenset({"web_fetch", "web_search"})
"""Tools whose domain rules read the host of the ``url`` argument."""

OPERATORS = re.compile(r"[;&|`<>\n\r]|\$\(")
"""Shell control operators, substitutions and redirections: their presence voids prefix allows."""
_SPLIT = re.compile(r"[;&|`\n\r(){}]|\$\(")
_ASSIGN = re.compile(r"[A-Za-z_]\w*=")
_WRAPPERS = frozenset(
    "env nohup time command builtin exec nice ionice xargs timeout stdbuf setsid unbuffer eval"  # noqa: SIM905
    " watch then do else elif if while until ! sudo doas".split()
)
_SHELLS = frozenset(["sh", "bash", "zsh", "dash", "ksh", "fish"])
_CLASS_SPECIAL = re.compile(r"[\\^\]\[]")

Test = Callable[["Call"], bool]


class RuleError(ValueError):
    """A rule that cannot be used, or a rule operation that cannot be done; the message says why."""


def _base(word: str) -> str:
    return word.rsplit("/", 1)[-1] or word


def command_words(tokens: list[str]) -> list[str]:
    """The words of one segment from the command itself on: wrappers and assignments skipped."""
    i, n = 0, len(tokens)
    while i < n:
        word = tokens[i]
        base = _base(word)
        if _ASSIGN.match(word):
            i += 1
        elif base in _WRAPPERS:
            i += 1
            while i < n and (tokens[i][:1] in ("-", "+") or tokens[i][:1].isdigit()):
                i += 1
        elif base in _SHELLS:
            flag = next(
                (j for j in range(i + 1, n) if re.fullmatch(r"-[a-z]*c[a-z]*", tokens[j])), None
            )
            if flag is None:
                break
            i = flag + 1
        else:
            break
    rest = tokens[i:]
    if rest:
        rest[0] = _base(rest[0])
    return rest


class Call:
    """One call's arguments and what the matchers derive from them, each computed at most once."""

    __slots__ = ("_cache", "args", "tool")

    def __init__(self, tool: str, args: dict[str, Any]) -> None:
        self.tool = tool
        self.args = args
        self._cache: dict[str, Any] = {}

    def text(self) -> str | None:
        """The command (shell) or code (python), if the tool has one."""
        key = COMMAND_ARGS.get(self.tool)
        value = self.args.get(key) if key else None
        return value if isinstance(value, str) else None

    def plain_text(self) -> str | None:
        """The command or code when the call sets no environment variables, else ``None``.

        ``GIT_CONFIG_*``, ``LD_PRELOAD`` or a pager variable can make ``git status`` run anything,
        so allow rules on the command cover calls without ``env`` only.
        """
        return None if self.args.get("env") else self.text()

    def words(self) -> list[str] | None:
        """The words of a plain command with no control operator, else ``None``."""
        if "words" not in self._cache:
            text = self.plain_text()
            plain = text is not None and OPERATORS.search(text) is None
            self._cache["words"] = text.split() if plain and text is not None else None
        result: list[str] | None = self._cache["words"]
        return result

    def raw_segments(self) -> list[str]:
        """The text cut at every control operator, each piece stripped."""
        if "raw" not in self._cache:
            text = self.text() or ""
            self._cache["raw"] = [s.strip() for s in _SPLIT.split(text) if s.strip()]
        result: list[str] = self._cache["raw"]
        return result

    def segments(self) -> list[list[str]]:
        """Each simple command's words, unquoted, wrappers skipped, the command name a basename."""
        if "segments" not in self._cache:
            text = self.text() or ""
            flat = text.replace("\\", "").replace("'", "").replace('"', "")
            found = []
            for piece in _SPLIT.split(flat):
                words = command_words(piece.split())
                if words:
                    found.append(words)
            self._cache["segments"] = found
        result: list[list[str]] = self._cache["segments"]
        return result

    def path(self) -> tuple[str, bool] | None:
        """The normalised ``path`` argument and whether it stays inside the workspace."""
        if "path" not in self._cache:
            raw = self.args.get("path", "." if self.tool == "list_files" else None)
            self._cache["path"] = normalise_path(raw) if isinstance(raw, str) else None
        result: tuple[str, bool] | None = self._cache["path"]
        return result

    def path_tails(self) -> list[str]:
        """The path and every tail of it, so a deny glob also catches absolute or ``..`` paths."""
        found = self.path()
        if found is None:
            return []
        norm, inside = found
        if inside:
            return [norm]
        parts = [p for p in norm.split("/") if p and p != ".."]
        return [norm] + ["/".join(parts[i:]) for i in range(len(parts))]

    def host(self) -> str | None:
        """The URL's host when the URL is plain http(s) that every client reads alike."""
        if "host" not in self._cache:
            self._cache["host"] = strict_host(self.args.get("url"))
        result: str | None = self._cache["host"]
        return result

    def hosts(self) -> set[str]:
        """Every host a client might take from the URL, however it is written."""
        url = self.args.get("url")
        if not isinstance(url, str):
            return set()
        found = set()
        try:
            if host := urlsplit(url.strip()).hostname:
                found.add(normalise_domain(host))
        except ValueError:
            pass
        if m := re.match(r"\s*[A-Za-z][\w+.-]*:[/\\]*([^/\\?#]*)", url):
            authority = m.group(1).rsplit("@", 1)[-1]
            found.add(normalise_domain(re.sub(r":\d*$", "", authority)))
        return found


def normalise_path(raw: str) -> tuple[str, bool]:
    """``(normalised path, inside the workspace)``; ``~`` and absolute paths count as outside."""
    norm = posixpath.normpath(raw) if raw else "."
    outside = norm.startswith(("/", "~")) or norm == ".." or norm.startswith("../")
    return norm, not outside


def normalise_domain(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def strict_host(url: Any) -> str | None:
    """The host of an ``http(s)`` URL with nothing a parser could read two ways, else ``None``."""
    if not isinstance(url, str) or re.search(r"[\\\s\x00-\x1f\x7f]", url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return normalise_domain(host)


def glob_regex(pattern: str) -> str:
    """A regex for a path glob: ``*`` and ``?`` stay within one segment, ``**`` crosses ``/``.

    ``dir/**`` also matches ``dir`` itself, ``**/x`` matches ``x`` at any depth (the top too), and
    ``[...]`` is a character class (``[!...]`` negated) that never matches ``/``.
    """
    tail = ""
    if pattern.endswith("/**"):
        pattern, tail = pattern[:-3], "(?:/.*)?"
    out, i, n = [], 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = _CLASS_SPECIAL.sub(r"\\\g<0>", body[1:] if negate else body)
            out.append(f"(?!/)[{'^' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out) + tail


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise RuleError(message)


def check_tool(tool: str, matcher: str) -> None:
    """Refuse a tool name the matcher cannot apply to."""
    _require(bool(tool) and tool == tool.strip(), "tool: empty or padded with spaces")
    if "*" in tool:
        _require(
            tool.endswith(".*") and "*" not in tool[:-2] and len(tool) > 2,
            f"tool {tool!r}: the only wildcard is an MCP server's 'server.*'",
        )
        _require(
            matcher == "any", f"tool {tool!r}: 'server.*' takes no prefix, regex, glob or domain"
        )
    if matcher in ("prefix", "regex"):
        _require(
            tool in COMMAND_ARGS,
            f"{matcher} rules are for {' and '.join(COMMAND_ARGS)} (not {tool}); use glob for "
            "file tools, domain for web tools, or no matcher for every call",
        )
    elif matcher == "glob":
        _require(tool in PATH_TOOLS, f"glob rules are for {', '.join(sorted(PATH_TOOLS))}")
    elif matcher == "domain":
        _require(tool in URL_TOOLS, f"domain rules are for {', '.join(sorted(URL_TOOLS))}")


def compile_test(tool: str, matcher: str, pattern: str, decision: str) -> Test:
    """The compiled test of one rule; strict for ``allow``, loose for ``deny`` and ``ask``."""
    _require(decision in ("allow", "ask", "deny"), f"decision {decision!r}: not allow, ask or deny")
    check_tool(tool, matcher)
    strict = decision == "allow"
    if matcher == "any":
        _require(pattern in ("", "*"), "a rule for every call has no pattern")
        return lambda call: True
    _require(bool(pattern.strip()), f"{matcher}: empty pattern")
    if matcher == "prefix":
        return _prefix_test(pattern, strict)
    if matcher == "regex":
        return _regex_test(pattern, strict)
    if matcher == "glob":
        return _glob_test(pattern, strict)
    if matcher == "domain":
        return _domain_test(pattern, strict)
    raise RuleError(f"matcher {matcher!r}: not prefix, regex, glob, domain or any")


def _prefix_test(pattern: str, strict: bool) -> Test:
    _require(
        OPERATORS.search(pattern) is None and not re.search(r"['\"\\]", pattern),
        f"prefix {pattern!r}: plain words only (no quotes, ; & | < > ` $( or newlines)",
    )
    words = pattern.split()
    n = len(words)
    if strict:
        return lambda call: (w := call.words()) is not None and w[:n] == words
    loose = [_base(words[0]), *words[1:]]
    return lambda call: any(seg[:n] == loose for seg in call.segments())


def _regex_test(pattern: str, strict: bool) -> Test:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"regex {pattern!r}: {exc}") from None
    if strict:
        return lambda call: (t := call.plain_text()) is not None and rx.fullmatch(t) is not None
    return lambda call: (
        (t := call.text()) is not None
        and (rx.fullmatch(t) is not None or any(rx.fullmatch(s) for s in call.raw_segments()))
    )


def _glob_test(pattern: str, strict: bool) -> Test:
    clean = pattern.strip()
    while clean.startswith("./"):
        clean = clean[2:]
    _require(
        not clean.startswith(("/", "~")) and ".." not in clean.split("/"),
        f"glob {pattern!r}: relative to the workspace, without '..'",
    )
    rx = re.compile(glob_regex(clean))
    if strict:
        return lambda call: (
            (p := call.path()) is not None and p[1] and rx.fullmatch(p[0]) is not None
        )
    return lambda call: any(rx.fullmatch(t) for t in call.path_tails())


def _domain_test(pattern: str, strict: bool) -> Test:
    domain = normalise_domain(pattern.removeprefix("*."))
    _require(
        re.fullmatch(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*", domain) is not None,
        f"domain {pattern!r}: a host name such as example.com (no scheme, port or path)",
    )
    dotted = "." + domain

    def on(host: str | None) -> bool:
        return host is not None and (host == domain or host.endswith(dotted))

    if strict:
        return lambda call: on(call.host())
    return lambda call: any(on(h) for h in call.hosts())
