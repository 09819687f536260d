"""The ``list_files`` tool: entries of a workspace directory, walked by descriptor.

Each directory is opened relative to its parent's descriptor with ``O_NOFOLLOW``, so a directory
swapped for a symlink during a recursive listing is reported, never entered; symlinks are listed
but never followed.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from pydantic import Field

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolResult
from agent_tui.core.tools.offload import IO_TIMEOUT, off_loop
from agent_tui.core.tools.walk import DIR_FLAGS, Changed
from agent_tui.core.tools.workspace import entry_kind, locate, retrying

SCAN_CAP = 200_000
"""Most directory entries ``list_files`` looks at before it stops and says so."""
MAX_DEPTH = 100
"""Deepest directory a recursive listing enters (each level holds a descriptor open)."""


class ListFilesArgs(ToolArgs):
    path: str = Field(".", description="Directory relative to the workspace.")
    pattern: str = Field("*", description="Shell-style pattern matched against each name.")
    recursive: bool = Field(False, description="Descend into subdirectories.")
    limit: int = Field(1000, ge=1, le=100_000, description="Most entries to return.")


class ListFilesTool(Tool):
    """List entries of a workspace directory."""

    name = "list_files"
    description = (
        "List files in a workspace directory, one path per line relative to the workspace; "
        "directories end with '/'. Symlinked directories are listed but not entered."
    )
    Args = ListFilesArgs

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, ListFilesArgs)
        mode = " recursively" if args.recursive else ""
        return f"list {args.path}{mode} matching {args.pattern!r} (limit {args.limit})"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, ListFilesArgs)
        what = f"list_files {args.path!r}"
        return await off_loop(_list, ctx.workspace, args, timeout=IO_TIMEOUT, what=what)


def _list(workspace: Path, args: ListFilesArgs) -> ToolResult:
    fd, rel = retrying(args.path, lambda: _open_dir(workspace, args.path))
    found: list[str] = []
    errors: list[str] = []
    truncated = False
    walk = _walk(fd, "" if rel == "." else rel + "/", args.recursive, errors)
    with closing(walk):
        for scanned, (name, shown) in enumerate(walk, start=1):
            if fnmatch.fnmatch(name, args.pattern):
                if len(found) >= args.limit:
                    truncated = True
                    break
                found.append(shown)
            if scanned >= SCAN_CAP:
                truncated = True
                errors.append(f"stopped after looking at {SCAN_CAP} entries")
                break
    data: dict[str, Any] = {"path": rel, "count": len(found), "truncated": truncated}
    if errors:
        data["errors"] = errors[:100]
    return ToolResult(ok=True, output="\n".join(found), data=data)


def _open_dir(workspace: Path, raw: str) -> tuple[int, str]:
    """A checked descriptor of the directory ``raw`` names, and its workspace path."""
    with locate(workspace, raw) as loc:
        kind = entry_kind(loc, raw)
        if kind is None:
            raise ToolError(f"path {raw!r} does not exist")
        if kind != "dir":
            raise ToolError(f"path {raw!r} is not a directory; use read_file")
        assert loc.dir_fd is not None
        try:
            fd = os.open(loc.name, DIR_FLAGS, dir_fd=loc.dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                raise Changed from exc
            raise ToolError(f"cannot list {raw!r}: {exc.strerror}") from exc
        return fd, loc.rel


def _walk(
    fd: int, prefix: str, recursive: bool, errors: list[str]
) -> Generator[tuple[str, str], None, None]:
    """``(name, shown path)`` in sorted pre-order; owns ``fd``; symlinks are never entered."""
    stack = [(fd, _entries(fd, prefix, errors))]
    try:
        while stack:
            parent, entries = stack[-1]
            item = next(entries, None)
            if item is None:
                os.close(stack.pop()[0])
                continue
            name, shown = item
            yield name, shown
            if recursive and shown.endswith("/"):
                if len(stack) > MAX_DEPTH:
                    errors.append(f"{shown}: not entered (more than {MAX_DEPTH} levels deep)")
                    continue
                child = _open_child(parent, name, shown, errors)
                if child is not None:
                    stack.append((child, _entries(child, shown, errors)))
    finally:
        for parent, _ in stack:
            os.close(parent)


def _open_child(parent: int, name: str, shown: str, errors: list[str]) -> int | None:
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        errors.append(f"{shown}: {exc.strerror}")
        return None
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _entries(fd: int, prefix: str, errors: list[str]) -> Iterator[tuple[str, str]]:
    """Sorted ``(name, shown path)`` of the directory open as ``fd``; directories end with '/'."""
    try:
        with os.scandir(fd) as it:
            entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
    except OSError as exc:
        errors.append(f"{prefix or './'}: {exc.strerror}")
        return iter(())
    return iter((name, prefix + name + ("/" if is_dir else "")) for name, is_dir in entries)
