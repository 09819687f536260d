"""What a shell command runs: whether its program names are plain words, and which files of the
workspace decide what it does (the script it runs, a Makefile, ``package.json``, ``.git/config``).

An allow rule must only ever cover a command whose program is known before it runs: ``$x id``,
``$'sudo'`` or ``s${x}udo`` name their program only when the shell expands them. And an allow
for ``./run.sh`` or ``make`` allows whatever those files say, so "always allow" binds to them.
"""

from __future__ import annotations

import posixpath
import re

from agent_tui.core.matchers import command_words

_ASSIGN = re.compile(r"[A-Za-z_]\w*=")
_LITERAL = re.compile(r"[\w./+@%:,-]+")
_TESTS = frozenset(["[", "[["])
"""The shell's test commands: plain words, though not made of word characters."""
_KEYWORDS = frozenset("then do else elif if while until ! fi done esac in".split())  # noqa: SIM905
_INTERPRETERS = frozenset(
    "sh bash zsh dash ksh fish python python3 python2 pypy pypy3 node deno bun perl ruby php lua"  # noqa: SIM905
    " Rscript tclsh awk gawk source .".split()
)
_RUNNERS = frozenset(["uv", "poetry", "pipenv", "hatch", "pdm"])
"""``uv run X`` and the like run ``X`` from the workspace's environment."""

BEHAVIOUR_FILES: dict[str, tuple[str, ...]] = {
    "make": ("Makefile", "makefile", "GNUmakefile"),
    "gmake": ("Makefile", "makefile", "GNUmakefile"),
    "just": ("justfile", "Justfile", ".justfile"),
    "npm": ("package.json", ".npmrc"),
    "npx": ("package.json", ".npmrc"),
    "yarn": ("package.json", ".yarnrc", ".yarnrc.yml"),
    "pnpm": ("package.json", ".npmrc"),
    "bun": ("package.json", "bunfig.toml"),
    "git": (".git/config",),
    "pytest": ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "conftest.py"),
    "tox": ("tox.ini", "pyproject.toml", "setup.cfg"),
    "nox": ("noxfile.py",),
    "cargo": ("Cargo.toml", "build.rs", ".cargo/config.toml"),
    "rake": ("Rakefile",),
    "gradle": ("build.gradle", "build.gradle.kts", "settings.gradle"),
    "mvn": ("pom.xml",),
    "direnv": (".envrc",),
    "docker": ("Dockerfile",),
    "uv": ("pyproject.toml",),
    "poetry": ("pyproject.toml",),
}
"""Files of the workspace whose content decides what a command of that program does."""


SUBSTITUTION_IN_QUOTES = "$(…) in quotes"
"""What :func:`nonliteral_program` names when a substitution hides inside double quotes."""


def _segments(command: str) -> list[list[str]]:
    """Each simple command's raw words (quotes kept), cut at control operators outside quotes.

    A command substitution inside double quotes runs a program too; its segment is returned as
    the single word :data:`SUBSTITUTION_IN_QUOTES`, which is never a plain word.
    """
    segments: list[list[str]] = [[]]
    word: list[str] = []
    quote: str | None = None
    i, n = 0, len(command)

    def flush() -> None:
        if word:
            segments[-1].append("".join(word))
            word.clear()

    while i < n:
        c = command[i]
        if quote is not None:
            word.append(c)
            if c == quote:
                quote = None
            elif quote == '"' and (c == "`" or command.startswith("$(", i)):
                segments.append([SUBSTITUTION_IN_QUOTES])
                segments.append([])
            elif quote == '"' and c == "\\" and i + 1 < n:
                word.append(command[i + 1])
                i += 1
        elif c in "'\"":
            quote = c
            word.append(c)
        elif c == "\\" and i + 1 < n:
            word.append(command[i : i + 2])
            i += 1
        elif command.startswith("${", i):
            end = command.find("}", i)
            end = n - 1 if end < 0 else end
            word.append(command[i : end + 1])
            i = end
        elif command.startswith("$(", i) or c in ";&|\n\r(){}`":
            flush()
            segments.append([])
            i += 1 if command.startswith("$(", i) else 0
        elif c in " \t":
            flush()
        else:
            word.append(c)
        i += 1
    flush()
    return [words for words in segments if words]


def _head(words: list[str]) -> list[str]:
    """The words from the program on, keywords, assignments and wrappers skipped (raw, unquoted)."""
    i = 0
    while i < len(words) and (words[i] in _KEYWORDS or _ASSIGN.match(words[i])):
        i += 1
    rest = words[i:]
    if not rest or not _LITERAL.fullmatch(rest[0]):
        return rest
    skipped = command_words(list(rest))
    return rest[len(rest) - len(skipped) :] if skipped else []


def nonliteral_program(command: str) -> str | None:
    """The first program name that is not a plain word (``$x``, ``$'sudo'``, ``~/bin/*``), or None."""
    for words in _segments(command):
        head = _head(words)
        if not head or _LITERAL.fullmatch(head[0]) or head[0] in _TESTS:
            continue
        inner = _unquoted(head[0])
        if inner is None:
            return head[0]
        found = nonliteral_program(inner) if not _LITERAL.fullmatch(inner) else None
        if found:  # bash -c "make test" is read as make test
            return found
    return None


def _unquoted(word: str) -> str | None:
    """The text of a word quoted whole with nothing the shell would expand in it, else None."""
    if len(word) >= 2 and word[0] == word[-1] == "'" and "'" not in word[1:-1]:
        return word[1:-1]
    if len(word) >= 2 and word[0] == word[-1] == '"' and not re.search(r'[$`\\"]', word[1:-1]):
        return word[1:-1]
    return None


def files_run(command: str) -> list[str]:
    """Workspace-relative files that decide what ``command`` does, in order, without repeats."""
    found: list[str] = []
    for words in _segments(command):
        for rel in _files_of(_head(words)):
            norm = posixpath.normpath(rel)
            if norm.startswith(("/", "../")) or norm in ("..", "."):
                continue
            if norm not in found:
                found.append(norm)
    return found


def _files_of(head: list[str]) -> list[str]:
    if not head:
        return []
    program = head[0]
    base = posixpath.basename(program)
    args = head[1:]
    if "/" in program:
        return [program]
    if base in _RUNNERS and args[:1] == ["run"]:
        return [*BEHAVIOUR_FILES.get(base, ()), *_files_of(args[1:])]
    if base in _INTERPRETERS or re.fullmatch(r"python3\.\d+", base):
        script = _script_argument(args)
        return [script] if script else []
    files = list(BEHAVIOUR_FILES.get(base, ()))
    if base in ("make", "gmake"):
        files += [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-f", "--file")]
    if base == "git":
        files += [".git/hooks"]
    return files


def _script_argument(args: list[str]) -> str | None:
    """The script file an interpreter runs, if its arguments name one (not ``-c`` or ``-m``)."""
    for arg in args:
        if arg in ("-c", "-m", "-e", "--eval", "-E", "-r"):
            return None
        if arg.startswith("-"):
            continue
        return arg if _LITERAL.fullmatch(arg) else None
    return None
