"""File tools confined to the workspace: ``read_file``, ``write_file`` and ``list_files``."""

from __future__ import annotations

import asyncio
import codecs
import difflib
import fnmatch
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolResult
from agent_tui.core.tools.workspace import (
    MAX_FILE_BYTES,
    check_inside_fd,
    check_size,
    relative,
    resolve_inside,
)

DEFAULT_READ_BYTES = 1024 * 1024
DIFF_CAP = 64 * 1024
"""Longest diff kept in a result, in characters."""
DIFF_INPUT_CAP = 2 * 1024 * 1024
"""Files larger than this are not diffed (difflib is slow on large inputs)."""
SCAN_CAP = 200_000
"""Most directory entries ``list_files`` looks at before it stops and says so."""
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the workspace.")
    max_bytes: int = Field(
        DEFAULT_READ_BYTES, ge=1, le=MAX_FILE_BYTES, description="Most bytes to return."
    )


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the workspace; parents are created.")
    content: str = Field(description="The text to write.")
    append: bool = Field(False, description="Append to the file instead of replacing it.")


class ListFilesArgs(ToolArgs):
    path: str = Field(".", description="Directory relative to the workspace.")
    pattern: str = Field("*", description="Shell-style pattern matched against each name.")
    recursive: bool = Field(False, description="Descend into subdirectories.")
    limit: int = Field(1000, ge=1, le=100_000, description="Most entries to return.")


class ReadFileTool(Tool):
    """Read a text file from the workspace."""

    name = "read_file"
    description = "Read a text file in the workspace (at most 10 MiB; long files are truncated)."
    Args = ReadFileArgs

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, ReadFileArgs)
        return f"read {args.path} (up to {args.max_bytes} bytes)"

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, ReadFileArgs)
        return await asyncio.to_thread(_read, ctx.workspace, args)


def _read(workspace: Path, args: ReadFileArgs) -> ToolResult:
    path = resolve_inside(workspace, args.path, must_exist=True)
    rel = relative(workspace, path)
    if path.is_dir():
        raise ToolError(f"{rel!r} is a directory; use list_files")
    size = check_size(path)
    raw = _read_bytes(workspace, path, args.path, args.max_bytes + 1)
    truncated = len(raw) > args.max_bytes or size > args.max_bytes
    raw = raw[: args.max_bytes]
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=not truncated)
        binary = "\x00" in text
    except UnicodeDecodeError:
        text, binary = raw.decode("utf-8", errors="replace"), True
    data = {"path": rel, "bytes": len(raw), "size": size, "truncated": truncated, "binary": binary}
    return ToolResult(ok=True, output=text, data=data)


def _read_bytes(workspace: Path, path: Path, raw: str, limit: int) -> bytes:
    """Read up to ``limit`` bytes of a regular file without following a swapped-in symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError as exc:
        raise ToolError(f"cannot open {raw!r}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        check_inside_fd(workspace, fd, raw)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolError(f"path {raw!r} is not a regular file")
        os.set_blocking(fd, True)
        return f.read(limit)


class WriteFileTool(Tool):
    """Create, replace or append to a text file in the workspace."""

    name = "write_file"
    description = (
        "Write a text file in the workspace, creating parent directories; replaces the file "
        "atomically unless append is true. Returns a unified diff of the change."
    )
    Args = WriteFileArgs
    side_effects = True
    default_decision = "allow"

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        assert isinstance(args, WriteFileArgs)
        try:
            path = resolve_inside(workspace, args.path, for_write=True)
            exists, old = _old_text(path)
        except ToolError as exc:
            return f"write {args.path}: refused: {exc}"
        verb = "append to" if args.append else "replace" if exists else "create"
        rel = relative(workspace, path)
        diff = _diff(exists, old, args.content, args.append, rel)
        return f"{verb} {rel}\n{diff}".rstrip("\n")

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WriteFileArgs)
        return await asyncio.to_thread(_write, ctx.workspace, args)


def _write(workspace: Path, args: WriteFileArgs) -> ToolResult:
    encoded = args.content.encode("utf-8", errors="replace")
    if len(encoded) > MAX_FILE_BYTES:
        raise ToolError(f"content is too large: {len(encoded)} bytes (limit {MAX_FILE_BYTES})")
    path = resolve_inside(workspace, args.path, for_write=True)
    rel = relative(workspace, path)
    exists, old = _old_text(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path = resolve_inside(workspace, args.path, for_write=True)
        if args.append:
            _append(workspace, path, args.path, encoded)
        else:
            _replace(workspace, path, args.path, encoded)
    except OSError as exc:
        raise ToolError(f"cannot write {rel!r}: {exc.strerror or exc}") from exc
    diff = _diff(exists, old, args.content, args.append, rel)
    added, removed = _counts(diff)
    verb = "created" if not exists else "appended to" if args.append else "updated"
    output = f"{verb} {rel} ({len(encoded)} bytes, +{added} -{removed} lines)"
    data = {"path": rel, "bytes": len(encoded), "diff": diff, "created": not exists}
    return ToolResult(ok=True, output=output, data=data)


def _replace(workspace: Path, path: Path, raw: str, content: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            check_inside_fd(workspace, fd, raw)
            f.write(content)
            f.flush()
            os.fsync(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _append(workspace: Path, path: Path, raw: str, content: bytes) -> None:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS
    fd = os.open(path, flags, 0o666)
    with os.fdopen(fd, "ab") as f:
        check_inside_fd(workspace, fd, raw)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolError(f"path {raw!r} is not a regular file")
        os.set_blocking(fd, True)
        f.write(content)


def _old_text(path: Path) -> tuple[bool, str | None]:
    """Whether ``path`` exists, and its text if it can be diffed (small and UTF-8)."""
    if not path.exists():
        return False, None
    if check_size(path) > DIFF_INPUT_CAP:
        return True, None
    try:
        return True, path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return True, None
    except OSError as exc:
        raise ToolError(f"cannot read {path.name!r}: {exc.strerror}") from exc


def _diff(exists: bool, old: str | None, content: str, append: bool, rel: str) -> str:
    """A unified diff of the file before and after, capped at :data:`DIFF_CAP` characters."""
    if exists and old is None:
        return "(diff omitted: the current file is binary or larger than 2 MiB)\n"
    new = (old or "") + content if append else content
    if len(new) > DIFF_INPUT_CAP:
        return f"(diff omitted: the new file has {len(new)} characters)\n"
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{rel}" if exists else "/dev/null",
        tofile=f"b/{rel}",
    )
    parts: list[str] = []
    total = 0
    for line in _terminated(lines):
        if total + len(line) > DIFF_CAP:
            parts.append("... diff truncated\n")
            break
        parts.append(line)
        total += len(line)
    return "".join(parts)


def _terminated(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line.endswith("\n"):
            yield line
        else:
            yield line + "\n"
            yield "\\ No newline at end of file\n"


def _counts(diff: str) -> tuple[int, int]:
    lines = diff.splitlines()
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    return added, removed


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


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
        return await asyncio.to_thread(_list, ctx.workspace, args)


def _list(workspace: Path, args: ListFilesArgs) -> ToolResult:
    root = resolve_inside(workspace, args.path, must_exist=True)
    rel = relative(workspace, root)
    if not root.is_dir():
        raise ToolError(f"{rel!r} is not a directory; use read_file")
    found: list[str] = []
    errors: list[str] = []
    truncated = False
    walk = _walk(root, "" if rel == "." else rel + "/", args.recursive, errors)
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


def _walk(
    folder: Path, prefix: str, recursive: bool, errors: list[str]
) -> Iterator[tuple[str, str]]:
    """``(name, shown path)`` in sorted pre-order; symlinked directories are not entered."""
    stack = [_entries(folder, prefix, errors)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        entry, shown = item
        yield entry.name, shown
        if recursive and shown.endswith("/"):
            stack.append(_entries(Path(entry.path), shown, errors))


def _entries(
    folder: Path, prefix: str, errors: list[str]
) -> Iterator[tuple[os.DirEntry[str], str]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        errors.append(f"{prefix or './'}: {exc.strerror}")
        return iter(())
    return iter(
        (e, prefix + e.name + ("/" if e.is_dir(follow_symlinks=False) else "")) for e in entries
    )
