"""Confinement: every path that leaves the workspace is refused by the resolver and the file tools."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_tui.core.tools.base import ToolContext, ToolError
from agent_tui.core.tools.files import ListFilesTool, ReadFileTool, WriteFileTool
from agent_tui.core.tools.workspace import MAX_FILE_BYTES, check_size, resolve_inside


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with a sibling ``outside`` directory holding a secret."""
    workspace = tmp_path / "ws"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "a.txt").write_text("hello\n")
    (workspace / "sub" / "b.txt").write_text("bee\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    return workspace


def _ctx(workspace: Path) -> ToolContext:
    return ToolContext(
        workspace=workspace,
        emit=lambda stream, text: None,
        goal_id=1,
        step_id=1,
        action_id=1,
        cancelled=asyncio.Event(),
    )


def _symlink(target: str, name: str) -> Callable[[Path], None]:
    return lambda ws: (ws / name).symlink_to(target)


def _chain(ws: Path) -> None:
    (ws / "chain3").symlink_to(ws.parent / "outside" / "secret.txt")
    (ws / "chain2").symlink_to("chain3")
    (ws / "chain1").symlink_to("chain2")


def _nested_up(ws: Path) -> None:
    (ws / "sub" / "up").symlink_to("../..")


def _fifo(ws: Path) -> None:
    os.mkfifo(ws / "fifo")


def _socket(ws: Path) -> None:
    os.mknod(ws / "sock", stat.S_IFSOCK | 0o600)


def _nothing(ws: Path) -> None:
    pass


ESCAPES: list[tuple[str, Callable[[Path], None], str, str]] = [
    # (id, setup, path, what the message says)
    ("dotdot", _nothing, "..", "outside the workspace"),
    ("dotdot-twice", _nothing, "../..", "outside the workspace"),
    ("sibling", _nothing, "../outside/secret.txt", "outside the workspace"),
    ("dot-dotdot", _nothing, "./../outside/secret.txt", "outside the workspace"),
    ("inner-dotdot", _nothing, "a/../../outside/secret.txt", "outside the workspace"),
    ("sub-dotdot", _nothing, "sub/../../outside", "outside the workspace"),
    ("etc-passwd", _nothing, "/etc/passwd", "outside the workspace"),
    ("root", _nothing, "/", "outside the workspace"),
    ("dev-null", _nothing, "/dev/null", "outside the workspace"),
    ("proc-root", _nothing, "/proc/self/root/etc/passwd", "outside the workspace"),
    ("home-ssh", _nothing, "~/.ssh/id_rsa", "relative to the workspace"),
    ("home", _nothing, "~", "relative to the workspace"),
    ("empty", _nothing, "", "empty path"),
    ("blank", _nothing, "   ", "empty path"),
    ("nul-byte", _nothing, "a.txt\x00.png", "NUL byte"),
    ("link-to-etc", _symlink("/etc", "etc"), "etc/passwd", "outside the workspace"),
    ("link-to-etc-dir", _symlink("/etc", "etc"), "etc", "outside the workspace"),
    ("linked-dir-out", _symlink("../outside", "out"), "out/secret.txt", "outside the workspace"),
    (
        "link-to-parent",
        _symlink("..", "parent"),
        "parent/outside/secret.txt",
        "outside the workspace",
    ),
    ("link-to-slash", _symlink("/", "slash"), "slash/etc/passwd", "outside the workspace"),
    ("symlink-chain", _chain, "chain1", "outside the workspace"),
    ("nested-up-link", _nested_up, "sub/up/outside/secret.txt", "outside the workspace"),
    (
        "dangling-out",
        _symlink("../outside/new.txt", "dangling"),
        "dangling",
        "outside the workspace",
    ),
    ("dev-zero-link", _symlink("/dev/zero", "zero"), "zero", "outside the workspace"),
    ("symlink-loop", _symlink("loop", "loop"), "loop", "symlink loop"),
    ("fifo", _fifo, "fifo", "not a regular file"),
    ("socket", _socket, "sock", "not a regular file"),
]
IDS = [case[0] for case in ESCAPES]


def _absolute_cases(ws: Path) -> list[str]:
    return [str(ws.parent / "outside" / "secret.txt"), f"{ws}/../outside/secret.txt"]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("case", "setup", "raw", "expect"), ESCAPES, ids=IDS)
@pytest.mark.parametrize("mode", ["plain", "must_exist", "for_write"])
def test_resolver_refuses(
    ws: Path, case: str, setup: Callable[[Path], None], raw: str, expect: str, mode: str
):
    setup(ws)
    with pytest.raises(ToolError, match=expect) as info:
        resolve_inside(ws, raw, must_exist=mode == "must_exist", for_write=mode == "for_write")
    message = str(info.value)
    assert message and "\n" not in message


def test_resolver_refuses_absolute_paths_outside(ws: Path):
    for raw in _absolute_cases(ws):
        with pytest.raises(ToolError, match="outside the workspace"):
            resolve_inside(ws, raw)


def test_messages_name_the_problem(ws: Path):
    cases = {
        "../x": "outside the workspace",
        "": "empty path",
        "a\x00b": "NUL byte",
        "~/x": "relative to the workspace",
    }
    for raw, expected in cases.items():
        with pytest.raises(ToolError, match=expected):
            resolve_inside(ws, raw)
    _fifo(ws)
    with pytest.raises(ToolError, match="not a regular file or directory"):
        resolve_inside(ws, "fifo")


@pytest.mark.parametrize(("case", "setup", "raw", "expect"), ESCAPES, ids=IDS)
async def test_read_file_refuses(
    ws: Path, case: str, setup: Callable[[Path], None], raw: str, expect: str
):
    setup(ws)
    tool = ReadFileTool()
    with pytest.raises(ToolError, match=expect):
        await asyncio.wait_for(tool.run(tool.parse({"path": raw}), _ctx(ws)), 10)


@pytest.mark.parametrize(("case", "setup", "raw", "expect"), ESCAPES, ids=IDS)
async def test_write_file_refuses(
    ws: Path, case: str, setup: Callable[[Path], None], raw: str, expect: str
):
    setup(ws)
    # The resolver must refuse first, so a broken tool can never reach a real system file.
    with pytest.raises(ToolError):
        resolve_inside(ws, raw, for_write=True)
    before = _snapshot(ws.parent / "outside")
    tool = WriteFileTool()
    for append in (False, True):
        args = tool.parse({"path": raw, "content": "pwned\n", "append": append})
        with pytest.raises(ToolError, match=expect):
            await asyncio.wait_for(tool.run(args, _ctx(ws)), 10)
        assert "refused" in tool.preview(args, ws)
    assert _snapshot(ws.parent / "outside") == before
    assert not (ws.parent / "outside" / "new.txt").exists()


@pytest.mark.parametrize(("case", "setup", "raw", "expect"), ESCAPES, ids=IDS)
async def test_list_files_refuses(
    ws: Path, case: str, setup: Callable[[Path], None], raw: str, expect: str
):
    setup(ws)
    tool = ListFilesTool()
    with pytest.raises(ToolError, match=expect):
        await tool.run(tool.parse({"path": raw, "recursive": True}), _ctx(ws))


async def test_file_tools_refuse_absolute_paths_outside(ws: Path):
    for raw in _absolute_cases(ws):
        for tool, args in (
            (ReadFileTool(), {"path": raw}),
            (WriteFileTool(), {"path": raw, "content": "x"}),
            (ListFilesTool(), {"path": raw}),
        ):
            with pytest.raises(ToolError, match="outside the workspace"):
                await tool.run(tool.parse(args), _ctx(ws))
    assert (ws.parent / "outside" / "secret.txt").read_text() == "secret\n"


async def test_oversized_file_is_refused(ws: Path):
    big = ws / "big.bin"
    subprocess.run(["truncate", "-s", str(MAX_FILE_BYTES + 1), str(big)], check=True)
    assert big.stat().st_blocks == 0 or big.stat().st_blocks * 512 < MAX_FILE_BYTES
    with pytest.raises(ToolError, match="too large"):
        check_size(big)
    assert check_size(ws / "a.txt") == 6
    read, write, listing = ReadFileTool(), WriteFileTool(), ListFilesTool()
    with pytest.raises(ToolError, match="too large"):
        await read.run(read.parse({"path": "big.bin", "max_bytes": 10}), _ctx(ws))
    with pytest.raises(ToolError, match="too large"):
        await write.run(write.parse({"path": "big.bin", "content": "x"}), _ctx(ws))
    with pytest.raises(ToolError, match="not a directory"):
        await listing.run(listing.parse({"path": "big.bin"}), _ctx(ws))
    assert big.stat().st_size == MAX_FILE_BYTES + 1


def test_paths_inside_are_accepted(ws: Path):
    root = ws.resolve()
    (ws / "inner").symlink_to("sub/b.txt")
    (ws / "subdir-link").symlink_to("sub")
    assert resolve_inside(ws, "a.txt") == root / "a.txt"
    assert resolve_inside(ws, "./sub/../a.txt") == root / "a.txt"
    assert resolve_inside(ws, str(root / "sub" / "b.txt")) == root / "sub" / "b.txt"
    assert resolve_inside(ws, "inner", must_exist=True) == root / "sub" / "b.txt"
    assert resolve_inside(ws, "subdir-link/new.txt", for_write=True) == root / "sub" / "new.txt"
    assert resolve_inside(ws, ".") == root
    assert resolve_inside(ws, "missing/deeper.txt", for_write=True) == root / "missing/deeper.txt"
    assert resolve_inside(ws, "..a") == root / "..a"


def test_missing_and_directory_modes(ws: Path):
    with pytest.raises(ToolError, match="does not exist"):
        resolve_inside(ws, "missing.txt", must_exist=True)
    with pytest.raises(ToolError, match="is a directory"):
        resolve_inside(ws, "sub", for_write=True)
    with pytest.raises(ToolError, match="cannot be accessed"):
        resolve_inside(ws, "a.txt/child")


def test_workspace_reached_through_a_symlink(ws: Path):
    link = ws.parent / "ws-link"
    link.symlink_to(ws)
    assert resolve_inside(link, "a.txt") == ws.resolve() / "a.txt"
    with pytest.raises(ToolError, match="outside"):
        resolve_inside(link, "../outside/secret.txt")


def test_missing_workspace(tmp_path: Path):
    with pytest.raises(ToolError, match="workspace"):
        resolve_inside(tmp_path / "nope", "a.txt")


# --- hard links ----------------------------------------------------------------------------------


@pytest.fixture
def hard_linked(ws: Path) -> Path:
    """``ws/h.txt`` and ``ws/sub/deep/h.txt``: hard links to the outside secret (the canary)."""
    secret = ws.parent / "outside" / "secret.txt"
    os.link(secret, ws / "h.txt")
    (ws / "sub" / "deep").mkdir()
    os.link(secret, ws / "sub" / "deep" / "h.txt")
    (ws / "to-h").symlink_to("sub/deep/h.txt")
    return secret


HARD_LINKS = ["h.txt", "sub/deep/h.txt", "./sub/../h.txt", "to-h"]


@pytest.mark.parametrize("raw", HARD_LINKS)
async def test_read_file_refuses_a_hard_link(ws: Path, hard_linked: Path, raw: str):
    tool = ReadFileTool()
    with pytest.raises(ToolError, match="hard link") as info:
        await tool.run(tool.parse({"path": raw}), _ctx(ws))
    message = str(info.value)
    assert "secret" not in message and "\n" not in message and repr(raw) in message


@pytest.mark.parametrize("raw", HARD_LINKS)
async def test_write_file_refuses_a_hard_link(ws: Path, hard_linked: Path, raw: str):
    tool = WriteFileTool()
    for append in (True, False):
        args = tool.parse({"path": raw, "content": "pwned\n", "append": append})
        preview = tool.preview(args, ws)
        assert "refused" in preview and "hard link" in preview and "secret" not in preview
        with pytest.raises(ToolError, match="hard link") as info:
            await tool.run(args, _ctx(ws))
        assert "secret" not in str(info.value) and "\n" not in str(info.value)
    assert hard_linked.read_text() == "secret\n"
    assert hard_linked.stat().st_nlink == 3, "the links were neither replaced nor removed"


async def test_list_files_shows_a_hard_link_without_reading_it(ws: Path, hard_linked: Path):
    tool = ListFilesTool()
    result = await tool.run(tool.parse({"path": "sub", "recursive": True}), _ctx(ws))
    assert result.output.splitlines() == ["sub/b.txt", "sub/deep/", "sub/deep/h.txt"]
    assert "secret" not in result.output


# --- symlinks inside the workspace ---------------------------------------------------------------


async def test_symlinks_inside_the_workspace_are_followed_through_the_walk(ws: Path):
    (ws / "inner").symlink_to("sub/b.txt")
    (ws / "sub-link").symlink_to("sub")
    (ws / "abs-link").symlink_to(ws.resolve() / "sub")
    read, write, listing = ReadFileTool(), WriteFileTool(), ListFilesTool()
    result = await read.run(read.parse({"path": "inner"}), _ctx(ws))
    assert result.output == "bee\n" and result.data["path"] == "sub/b.txt"
    result = await read.run(read.parse({"path": "abs-link/b.txt"}), _ctx(ws))
    assert result.output == "bee\n"
    await write.run(write.parse({"path": "sub-link/new/c.txt", "content": "c\n"}), _ctx(ws))
    assert (ws / "sub" / "new" / "c.txt").read_text() == "c\n"
    await write.run(write.parse({"path": "inner", "content": "more\n", "append": True}), _ctx(ws))
    assert (ws / "sub" / "b.txt").read_text() == "bee\nmore\n"
    assert (ws / "inner").is_symlink(), "the link itself is kept"
    listed = await listing.run(listing.parse({"path": "sub-link"}), _ctx(ws))
    assert listed.output.splitlines() == ["sub/b.txt", "sub/new/"]


async def test_list_files_does_not_enter_symlinked_directories(ws: Path):
    (ws / "out").symlink_to(ws.parent / "outside")
    (ws / "sub" / "up").symlink_to("..")
    tool = ListFilesTool()
    result = await tool.run(tool.parse({"path": ".", "recursive": True}), _ctx(ws))
    assert result.output.splitlines() == ["a.txt", "out", "sub/", "sub/b.txt", "sub/up"]
