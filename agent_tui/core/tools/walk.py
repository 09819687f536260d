"""Resolve a workspace path through directory descriptors, one ``O_NOFOLLOW`` component at a time.

A check on a path string and a later open of the same string can see two different files: a
directory or file swapped for a symlink in between makes the open leave the workspace. Here every
component is opened relative to the descriptor of its parent, never by name from the top, and a
symlink is never followed by the kernel: its target is read and walked again through the same
checks, so a link that stays inside the workspace still works and one that leaves it is refused.
The result is an open, checked directory and one name in it; callers open that name with
``dir_fd=`` and ``O_NOFOLLOW`` and check what they got with ``fstat``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from agent_tui.core.tools.base import ToolError

MAX_HOPS = 40
"""Most symlinks followed (and swaps retried) in one walk, as the kernel's ``ELOOP`` limit."""
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Changed(Exception):
    """The entry changed between its check and its open (a swap race): walk again."""


@dataclass
class Location:
    """An open directory inside the workspace and one ``name`` in it (``"."``: the directory).

    ``dir_fd`` is ``None`` when a parent directory does not exist. ``rel`` is the path relative to
    the workspace root with symlinks resolved, in POSIX form (``"."`` for the root). Close it.
    """

    dir_fd: int | None
    name: str
    rel: str
    _fds: list[int] = field(default_factory=list, repr=False)
    seen: dict[int, os.stat_result] = field(default_factory=dict, repr=False)
    """What each file opened at this location looked like when it was checked, by descriptor."""

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())

    def __enter__(self) -> Location:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Dir:
    fd: int | None  # None: the directory does not exist (yet)
    name: str


def open_root(root: Path) -> int:
    """A descriptor of the workspace root (already resolved), checked to be a directory."""
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError as exc:
        raise ToolError(f"workspace {str(root)!r} is not available: {exc.strerror}") from exc
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise ToolError(f"workspace {str(root)!r} is not a directory")
    return fd


def locate(root_fd: int, prefixes: tuple[str, ...], raw: str, *, create: bool = False) -> Location:
    """Walk ``raw`` from ``root_fd``; the last component is followed if it is a symlink.

    ``prefixes`` are absolute spellings of the root (its real path, the path as configured): an
    absolute ``raw`` or link target must start with one of them. With ``create`` missing parent
    directories are made (through their parent's descriptor). Raises :class:`ToolError` with a
    one-line message naming ``raw`` for anything that leaves the workspace.
    """
    stack = [_Dir(os.dup(root_fd), "")]
    try:
        name = _walk(stack, deque(_parts(prefixes, raw, raw)), prefixes, raw, create)
    except BaseException:
        _close(stack)
        raise
    fds = [d.fd for d in stack if d.fd is not None]
    for fd in fds[:-1]:
        os.close(fd)
    parent = stack[-1].fd
    rel = "/".join(d.name for d in stack[1:] if d.name)
    if name != ".":
        rel = f"{rel}/{name}" if rel else name
    return Location(parent, name, rel or ".", fds[-1:])


def _walk(
    stack: list[_Dir], todo: deque[str], prefixes: tuple[str, ...], raw: str, create: bool
) -> str:
    hops = 0
    while todo:
        part = todo.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if len(stack) == 1:
                raise ToolError(f"path {raw!r} is outside the workspace")
            gone = stack.pop()
            if gone.fd is not None:
                os.close(gone.fd)
            continue
        cur = stack[-1].fd
        if cur is None:  # below a missing directory: nothing to look at
            stack.append(_Dir(None, part))
            continue
        last = not any(p not in ("", ".") for p in todo)
        target = _readlink(part, cur)
        if target is not None:
            hops += 1
            if hops > MAX_HOPS:
                raise ToolError(f"path {raw!r} is a symlink loop")
            parts = _parts(prefixes, target, raw)
            if target.startswith("/"):
                _close(stack[1:])
                del stack[1:]
            todo.extendleft(reversed(parts))
            continue
        if last:
            return part
        try:
            fd = os.open(part, DIR_FLAGS, dir_fd=cur)
        except FileNotFoundError:
            if not create:
                stack.append(_Dir(None, part))
                continue
            _mkdir(part, cur, raw)
            todo.appendleft(part)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or _plain(part, cur):
                raise ToolError(f"path {raw!r} cannot be accessed: {exc.strerror}") from exc
            todo.appendleft(part)  # swapped since it was read: look again
        else:
            stack.append(_Dir(fd, part))
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise ToolError(f"path {raw!r} cannot be accessed: Not a directory")
            continue
        hops += 1
        if hops > MAX_HOPS:
            raise ToolError(f"path {raw!r} keeps changing while it is opened")
    return "."


def _parts(prefixes: tuple[str, ...], path: str, raw: str) -> list[str]:
    """The components of ``path`` relative to the root; absolute ones must start at the root."""
    if not path.startswith("/"):
        return path.split("/")
    parts = path.split("/")
    for prefix in prefixes:
        head = prefix.rstrip("/").split("/")
        if parts[: len(head)] == head:
            return parts[len(head) :]
    raise ToolError(f"path {raw!r} is outside the workspace")


def _readlink(name: str, dir_fd: int) -> str | None:
    """The target of ``name`` if it is a symlink, else ``None`` (missing, or not a link)."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None


def _plain(name: str, dir_fd: int) -> bool:
    """Whether ``name`` is there and is neither a directory nor a symlink (so not a swap)."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return not (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode))


def _mkdir(name: str, dir_fd: int, raw: str) -> None:
    try:
        os.mkdir(name, 0o777, dir_fd=dir_fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ToolError(f"cannot create a directory for {raw!r}: {exc.strerror}") from exc


def _close(dirs: list[_Dir]) -> None:
    for d in dirs:
        if d.fd is not None:
            os.close(d.fd)
            d.fd = None
