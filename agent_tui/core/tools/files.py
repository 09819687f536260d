"""File tools confined to the workspace: ``read_file`` and ``write_file`` (``list_files`` lives
in :mod:`~agent_tui.core.tools.list_files`).

Every path is walked through directory descriptors (:func:`~agent_tui.core.tools.workspace.locate`)
and every file opened relative to its checked directory, so a name swapped for a symlink, a FIFO
or a hard link between a check and an open cannot make a tool read or write outside the
workspace. All I/O, the preview's read of the old file included, runs off the event loop.
"""

from __future__ import annotations

import codecs
import difflib
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from pydantic import Field

from agent_tui.core.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolResult
from agent_tui.core.tools.list_files import ListFilesArgs, ListFilesTool
from agent_tui.core.tools.offload import IO_TIMEOUT, off_loop
from agent_tui.core.tools.walk import Changed, Location
from agent_tui.core.tools.workspace import (
    MAX_FILE_BYTES,
    entry_kind,
    locate,
    open_file,
    recheck,
    refuse_large,
    retrying,
)

__all__ = ["ListFilesArgs", "ListFilesTool", "ReadFileTool", "WriteFileTool"]

DEFAULT_READ_BYTES = 1024 * 1024
DIFF_CAP = 64 * 1024
"""Longest diff kept in a result, in characters."""
DIFF_INPUT_CAP = 2 * 1024 * 1024
"""Files larger than this are not diffed (difflib is slow on large inputs)."""


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the workspace.")
    max_bytes: int = Field(
        DEFAULT_READ_BYTES, ge=1, le=MAX_FILE_BYTES, description="Most bytes to return."
    )


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the workspace; parents are created.")
    content: str = Field(description="The text to write.")
    append: bool = Field(False, description="Append to the file instead of replacing it.")


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
        what = f"read_file {args.path!r}"
        return await off_loop(_read, ctx.workspace, args, timeout=IO_TIMEOUT, what=what)


def _read(workspace: Path, args: ReadFileArgs) -> ToolResult:
    raw, rel, size = retrying(args.path, lambda: _read_bytes(workspace, args))
    truncated = len(raw) > args.max_bytes or size > args.max_bytes
    raw = raw[: args.max_bytes]
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=not truncated)
        binary = "\x00" in text
    except UnicodeDecodeError:
        text, binary = raw.decode("utf-8", errors="replace"), True
    data = {"path": rel, "bytes": len(raw), "size": size, "truncated": truncated, "binary": binary}
    return ToolResult(ok=True, output=text, data=data)


def _read_bytes(workspace: Path, args: ReadFileArgs) -> tuple[bytes, str, int]:
    """Up to ``max_bytes + 1`` bytes of the file, its path relative to the workspace, its size."""
    with locate(workspace, args.path) as loc:
        if entry_kind(loc, args.path) == "dir":
            raise ToolError(f"path {args.path!r} is a directory; use list_files")
        fd = open_file(loc, args.path, os.O_RDONLY)
        if fd is None:
            raise ToolError(f"path {args.path!r} does not exist")
        try:
            size = os.fstat(fd).st_size
            refuse_large(size, args.path)
            data = _read_from(fd, args.max_bytes + 1)
            recheck(loc, fd, args.path)
            return data, loc.rel, size
        except OSError as exc:
            raise ToolError(f"cannot read {args.path!r}: {exc.strerror}") from exc
        finally:
            os.close(fd)


def _read_from(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of ``fd`` (a regular file)."""
    parts: list[bytes] = []
    got = 0
    while got < limit:
        chunk = os.pread(fd, min(limit - got, 1024 * 1024), got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


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
    preview_blocks = True  # it reads the file it would change, for the diff

    def preview(self, args: ToolArgs, workspace: Path) -> str:
        """What the write would do, with its diff; blocking I/O, so callers run it off the loop."""
        assert isinstance(args, WriteFileArgs)
        try:
            exists, old, rel = retrying(args.path, lambda: _peek(workspace, args.path))
        except ToolError as exc:
            return f"write {args.path}: refused: {exc}"
        verb = "append to" if args.append else "replace" if exists else "create"
        diff = _diff(exists, old, args.content, args.append, rel)
        return f"{verb} {rel}\n{diff}".rstrip("\n")

    async def run(self, args: ToolArgs, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WriteFileArgs)
        what = f"write_file {args.path!r}"
        return await off_loop(_write, ctx.workspace, args, timeout=IO_TIMEOUT, what=what)


def _peek(workspace: Path, raw: str) -> tuple[bool, str | None, str]:
    """Whether the file exists, its text if it can be diffed, and its workspace path."""
    with locate(workspace, raw) as loc:
        fd = open_file(loc, raw, os.O_RDONLY)
        if fd is None:
            return False, None, loc.rel
        try:
            return True, _old_text(loc, fd, raw), loc.rel
        finally:
            os.close(fd)


def _write(workspace: Path, args: WriteFileArgs) -> ToolResult:
    encoded = args.content.encode("utf-8", errors="replace")
    if len(encoded) > MAX_FILE_BYTES:
        raise ToolError(f"content is too large: {len(encoded)} bytes (limit {MAX_FILE_BYTES})")
    exists, old, rel = retrying(args.path, lambda: _write_once(workspace, args, encoded))
    diff = _diff(exists, old, args.content, args.append, rel)
    added, removed = _counts(diff)
    verb = "created" if not exists else "appended to" if args.append else "updated"
    output = f"{verb} {rel} ({len(encoded)} bytes, +{added} -{removed} lines)"
    data = {"path": rel, "bytes": len(encoded), "diff": diff, "created": not exists}
    return ToolResult(ok=True, output=output, data=data)


def _write_once(
    workspace: Path, args: WriteFileArgs, content: bytes
) -> tuple[bool, str | None, str]:
    """Write through the checked directory; whether the file existed, its old text, its path."""
    with locate(workspace, args.path):  # refuse an escape before creating any directory
        pass
    with locate(workspace, args.path, create=True) as loc:
        try:
            if args.append:
                exists, old = _append(loc, args.path, content)
            else:
                exists, old = _replace(loc, args.path, content)
        except OSError as exc:
            raise ToolError(f"cannot write {args.path!r}: {exc.strerror or exc}") from exc
        return exists, old, loc.rel


def _replace(loc: Location, raw: str, content: bytes) -> tuple[bool, str | None]:
    """Write a temporary file in the checked directory, then rename it over the name."""
    assert loc.dir_fd is not None
    fd = open_file(loc, raw, os.O_RDONLY)
    if fd is None:
        exists, old, mode = False, None, 0o666 & ~_umask()
    else:
        try:
            exists, old = True, _old_text(loc, fd, raw)
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
    tmp = f".{loc.name[:100]}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    tmp_fd = os.open(tmp, flags, 0o600, dir_fd=loc.dir_fd)
    try:
        with os.fdopen(tmp_fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fchmod(tmp_fd, mode)
            os.fsync(tmp_fd)
        os.replace(tmp, loc.name, src_dir_fd=loc.dir_fd, dst_dir_fd=loc.dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=loc.dir_fd)
        raise
    return exists, old


def _append(loc: Location, raw: str, content: bytes) -> tuple[bool, str | None]:
    """Append through one descriptor: the diff's old text is read from the file written."""
    fd = open_file(loc, raw, os.O_RDWR | os.O_APPEND)
    exists = fd is not None
    if fd is None:
        fd = open_file(loc, raw, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o666)
        if fd is None:  # its directory vanished
            raise Changed
    try:
        old = _old_text(loc, fd, raw) if exists else None
        os.set_blocking(fd, True)
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return exists, old


def _old_text(loc: Location, fd: int, raw: str) -> str | None:
    """The text of the open file if it can be diffed (small and UTF-8), else ``None``."""
    size = os.fstat(fd).st_size
    refuse_large(size, raw)
    if size > DIFF_INPUT_CAP:
        return None
    try:
        data = _read_from(fd, size)
    except OSError as exc:
        raise ToolError(f"cannot read {raw!r}: {exc.strerror}") from exc
    recheck(loc, fd, raw)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


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
