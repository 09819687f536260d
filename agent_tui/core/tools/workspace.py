"""Confinement of file tools to the workspace: every path is checked after resolving symlinks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent_tui.core.tools.base import ToolError

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest file the file tools read or write."""


def workspace_root(workspace: Path) -> Path:
    """The workspace with symlinks resolved; it must be an existing directory."""
    try:
        root = workspace.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ToolError(f"workspace {str(workspace)!r} is not available: {exc}") from exc
    if not root.is_dir():
        raise ToolError(f"workspace {str(workspace)!r} is not a directory")
    return root


def resolve_inside(
    workspace: Path, raw: str, *, must_exist: bool = False, for_write: bool = False
) -> Path:
    """Resolve ``raw`` (relative to the workspace, or absolute inside it) to a real path inside it.

    Raises :class:`ToolError` with a one-line message for empty paths, NUL bytes, ``~`` paths,
    anything whose real path (symlinks followed) is outside the workspace, and existing entries
    that are neither regular files nor directories (devices, FIFOs, sockets). With ``for_write``
    an existing directory is refused too; with ``must_exist`` a missing path is refused.
    """
    if not raw or not raw.strip():
        raise ToolError("empty path")
    if "\x00" in raw:
        raise ToolError(f"path {raw!r} contains a NUL byte")
    if raw.startswith("~"):
        raise ToolError(f"path {raw!r} starts with '~'; use a path relative to the workspace")
    root = workspace_root(workspace)
    try:
        resolved = (root / raw).resolve()
    except RuntimeError as exc:
        raise ToolError(f"path {raw!r} is a symlink loop") from exc
    except OSError as exc:
        raise ToolError(f"path {raw!r} cannot be resolved: {exc.strerror}") from exc
    if resolved != root and root not in resolved.parents:
        raise ToolError(f"path {raw!r} is outside the workspace")
    try:
        info = resolved.stat()
    except FileNotFoundError:
        if must_exist:
            raise ToolError(f"path {raw!r} does not exist") from None
        return resolved
    except OSError as exc:
        raise ToolError(f"path {raw!r} cannot be accessed: {exc.strerror}") from exc
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise ToolError(f"path {raw!r} is not a regular file or directory")
    if for_write and stat.S_ISDIR(info.st_mode):
        raise ToolError(f"path {raw!r} is a directory")
    return resolved


def check_inside_fd(workspace: Path, fd: int, raw: str) -> None:
    """Refuse an open descriptor whose real path is outside the workspace (closes a swap race)."""
    link = f"/proc/self/fd/{fd}"
    if not os.path.exists(link):
        return
    real = Path(os.readlink(link))
    root = workspace_root(workspace)
    if real != root and root not in real.parents:
        raise ToolError(f"path {raw!r} is outside the workspace")


def check_size(path: Path, limit: int = MAX_FILE_BYTES) -> int:
    """Return the size of ``path``; raise :class:`ToolError` if it is larger than ``limit`` bytes."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ToolError(f"cannot read the size of {str(path)!r}: {exc.strerror}") from exc
    if size > limit:
        raise ToolError(f"file {path.name!r} is too large: {_human(size)} (limit {_human(limit)})")
    return size


def relative(workspace: Path, path: Path) -> str:
    """``path`` relative to the workspace, in POSIX form, for messages and results."""
    root = workspace_root(workspace)
    try:
        rel = path.relative_to(root)
    except ValueError:
        return str(path)
    return rel.as_posix() if rel.parts else "."


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
