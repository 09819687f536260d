"""Rules bound to file content: "always allow" of ``./run.sh`` allows ``run.sh`` as it was.

When a person saves an allow rule for a command that runs files of the workspace (a script, a
Makefile, ``package.json``, ``.git/config``), the files' hashes (and, for small text files, their
text) are stored with the rule. A later call whose files differ asks again, showing the diff since
the rule was saved. A file that was absent is bound as absent: creating it later asks too.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

KEEP_TEXT = 64 * 1024
"""Largest file whose text is kept with the rule, so a later change can be shown as a diff."""
HASH_LIMIT = 32 * 1024 * 1024
"""Largest file hashed; a larger one binds by size and modification time."""
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

Binding = dict[str, dict[str, Any]]
"""``{relative path: {"sha256": hex or None when absent, "text": str or None}}``."""


def snapshot(workspace: Path, rels: Iterable[str]) -> Binding:
    """The current state of each of ``rels`` in ``workspace``."""
    return {rel: _state(workspace, rel) for rel in rels}


def changes(workspace: Path, bound: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(path, what changed)`` for each bound file that is not as it was; empty when unchanged."""
    found = []
    for rel, then in bound.items():
        now = _state(workspace, rel)
        if now["sha256"] == then.get("sha256"):
            continue
        found.append((rel, _describe(rel, then, now)))
    return found


def _describe(rel: str, then: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    if then.get("sha256") is None:
        return f"{rel} was created since"
    if now["sha256"] is None:
        return f"{rel} was removed since"
    old, new = then.get("text"), now.get("text")
    if old is None or new is None:
        return f"{rel} changed since (binary or large: no diff)"
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff).rstrip("\n")


def _state(workspace: Path, rel: str) -> dict[str, Any]:
    root = os.path.realpath(workspace)
    path = os.path.join(root, rel)
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        return {"sha256": _digest(b"outside:" + real.encode()), "text": None}
    try:
        info = os.lstat(path)
    except OSError:
        return {"sha256": None, "text": None}
    if stat.S_ISLNK(info.st_mode):
        return {"sha256": _digest(b"link:" + os.readlink(path).encode()), "text": None}
    if stat.S_ISDIR(info.st_mode):
        return {"sha256": _dir_digest(Path(path)), "text": None}
    if not stat.S_ISREG(info.st_mode):
        return {"sha256": _digest(f"special:{info.st_mode}".encode()), "text": None}
    if info.st_size > HASH_LIMIT:
        return {"sha256": _digest(f"big:{info.st_size}:{info.st_mtime_ns}".encode()), "text": None}
    try:
        data = _read(path)
    except OSError:
        return {"sha256": _digest(b"unreadable"), "text": None}
    text = None
    if len(data) <= KEEP_TEXT:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    return {"sha256": _digest(data), "text": text}


def _read(path: str) -> bytes:
    fd = os.open(path, _FLAGS)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(HASH_LIMIT + 1)


def _dir_digest(folder: Path) -> str:
    """Hash of every file under ``folder`` (names and contents), git's ``*.sample`` hooks aside."""
    h = hashlib.sha256()
    for base, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".sample"):
                continue
            full = os.path.join(base, name)
            h.update(os.path.relpath(full, folder).encode() + b"\0")
            try:
                h.update(_read(full) if os.path.isfile(full) else b"special")
            except OSError:
                h.update(b"unreadable")
    return h.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
