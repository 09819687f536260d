"""Confinement of file tools to the workspace: paths are walked and files opened by descriptor.

Every path goes through :func:`locate` (see :mod:`~agent_tui.core.tools.walk`): no component is
ever opened by a path string that a swap could redirect. :func:`open_file` opens the last name with
``O_NOFOLLOW | O_NONBLOCK`` and accepts only a regular file with a single link: a FIFO never blocks,
a device or socket is refused, and a hard link (which may share its inode with a file outside the
workspace) is refused rather than read or written.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agent_tui.core.display import human_size
from agent_tui.core.tools.base import ToolError
from agent_tui.core.tools.walk import Changed, Location, open_root
from agent_tui.core.tools.walk import locate as _locate

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest file the file tools read or write."""
MAX_TRIES = 20
"""Walks tried again when an entry changes between its check and its open, before giving up."""
FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
T = TypeVar("T")


def workspace_root(workspace: Path) -> Path:
    """The workspace with symlinks resolved; it must be an existing directory."""
    try:
        root = workspace.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ToolError(f"workspace {str(workspace)!r} is not available: {exc}") from exc
    if not root.is_dir():
        raise ToolError(f"workspace {str(workspace)!r} is not a directory")
    return root


def locate(workspace: Path, raw: str, *, create: bool = False) -> Location:
    """Walk ``raw`` (relative to the workspace, or absolute inside it) to a checked location.

    Refuses, with a one-line message naming ``raw``: empty paths, NUL bytes, ``~`` paths and
    anything that leads outside the workspace, through ``..`` or symlinks. Symlinks that stay
    inside are followed by walking their targets through the same checks. With ``create``
    missing parent directories are made.
    """
    if not raw or not raw.strip():
        raise ToolError("empty path")
    if "\x00" in raw:
        raise ToolError(f"path {raw!r} contains a NUL byte")
    if raw.startswith("~"):
        raise ToolError(f"path {raw!r} starts with '~'; use a path relative to the workspace")
    root = workspace_root(workspace)
    prefixes = (str(root), os.path.abspath(workspace))
    root_fd = open_root(root)
    try:
        return _locate(root_fd, prefixes, raw, create=create)
    finally:
        os.close(root_fd)


def retrying(raw: str, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` again while it raises :class:`Changed` (an entry swapped mid-check)."""
    for _ in range(MAX_TRIES):
        try:
            return attempt()
        except Changed:
            continue
    raise ToolError(f"path {raw!r} keeps changing while it is opened; try again")


def open_file(loc: Location, raw: str, flags: int, mode: int = 0o666) -> int | None:
    """Open ``loc`` as a regular, singly linked file; ``None`` if it does not exist.

    Raises :class:`Changed` if the name became a symlink after the walk checked it, and
    :class:`ToolError` for a directory, anything but a regular file, or a hard-linked file.
    """
    if loc.dir_fd is None:
        return None
    if loc.name == ".":
        raise ToolError(f"path {raw!r} is a directory")
    kind = entry_kind(loc, raw)
    if kind is None and not flags & os.O_CREAT:
        return None
    if kind == "dir":
        raise ToolError(f"path {raw!r} is a directory")
    try:
        fd = os.open(loc.name, flags | FILE_FLAGS, mode, dir_fd=loc.dir_fd)
    except FileNotFoundError:
        return None
    except FileExistsError as exc:
        raise Changed from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Changed from exc
        if exc.errno == errno.EISDIR:
            raise ToolError(f"path {raw!r} is a directory") from exc
        if exc.errno == errno.ENXIO:
            raise ToolError(f"path {raw!r} is not a regular file or directory") from exc
        raise ToolError(f"cannot open {raw!r}: {exc.strerror}") from exc
    try:
        loc.seen[fd] = check_file(fd, raw)
        recheck(loc, fd, raw)
    except BaseException:
        loc.seen.pop(fd, None)
        os.close(fd)
        raise
    return fd


def recheck(loc: Location, fd: int, raw: str) -> None:
    """Refuse ``fd`` unless ``loc`` still names it and it still has one link and the same ctime.

    One link proves a file is inside the workspace only at a moment when the workspace name
    points to it: a hard link to an outside file can be renamed away and back between two
    checks. So the name is looked up first, then the file is compared with what :func:`open_file`
    saw: every link, unlink or rename changes the ctime, so an equal ctime means one link all the
    time in between, the name lookup included. Callers check again after reading, so content
    read while the file had a second name is thrown away. (Kernels before 6.13 keep ctime in
    clock ticks of a few ms, so two link changes within one tick can go unseen there.)
    """
    try:
        now = os.stat(loc.name, dir_fd=loc.dir_fd, follow_symlinks=False)
    except OSError as exc:
        raise Changed from exc
    info = check_file(fd, raw)
    first = loc.seen.get(fd, info)
    same = (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino) == (first.st_dev, first.st_ino)
    if not same or info.st_ctime_ns != first.st_ctime_ns:
        raise Changed


def check_file(fd: int, raw: str) -> os.stat_result:
    """Refuse an open descriptor that is not a regular file with exactly one link."""
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"path {raw!r} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"path {raw!r} is not a regular file or directory")
    if info.st_nlink == 0:  # removed since it was opened: look again
        raise Changed
    if info.st_nlink != 1:
        raise ToolError(
            f"path {raw!r} is a hard link ({info.st_nlink} names for one file); "
            "file tools refuse hard-linked files"
        )
    return info


def entry_kind(loc: Location, raw: str) -> str | None:
    """``"file"``, ``"dir"`` or ``None`` (missing) for ``loc``, looked at without following it.

    Anything else (FIFO, socket, device) is refused here, before any open could touch it.
    """
    if loc.dir_fd is None:
        return None
    if loc.name == ".":
        return "dir"
    try:
        info = os.stat(loc.name, dir_fd=loc.dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"path {raw!r} cannot be accessed: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise Changed
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    if stat.S_ISREG(info.st_mode):
        return "file"
    raise ToolError(f"path {raw!r} is not a regular file or directory")


def resolve_inside(
    workspace: Path, raw: str, *, must_exist: bool = False, for_write: bool = False
) -> Path:
    """The real path inside the workspace that ``raw`` names, for messages and checks.

    The same walk as the tools (:func:`locate`), so the same refusals; besides, entries that are
    neither regular files nor directories are refused, with ``for_write`` an existing directory
    too, and with ``must_exist`` a missing path. Never open the returned path: a swap can redirect
    it; the tools open through the walk's descriptors instead.
    """

    def attempt() -> Path:
        with locate(workspace, raw) as loc:
            kind = entry_kind(loc, raw)
            if kind is None and must_exist:
                raise ToolError(f"path {raw!r} does not exist")
            if kind == "dir" and for_write:
                raise ToolError(f"path {raw!r} is a directory")
            root = workspace_root(workspace)
            return root if loc.rel == "." else root / loc.rel

    return retrying(raw, attempt)


def check_size(path: Path, limit: int = MAX_FILE_BYTES) -> int:
    """Return the size of ``path``; raise :class:`ToolError` if it is larger than ``limit`` bytes."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ToolError(f"cannot read the size of {str(path)!r}: {exc.strerror}") from exc
    refuse_large(size, path.name, limit)
    return size


def refuse_large(size: int, raw: str, limit: int = MAX_FILE_BYTES) -> None:
    """Raise :class:`ToolError` if ``size`` is over ``limit`` bytes."""
    if size > limit:
        raise ToolError(
            f"file {raw!r} is too large: {human_size(size)} (limit {human_size(limit)})"
        )
