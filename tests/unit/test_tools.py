"""The built-in tools against real subprocesses and real files."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent_tui.config import Settings
from agent_tui.core.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent_tui.core.tools.echo import EchoTool
from agent_tui.core.tools.files import DIFF_CAP, ListFilesTool, ReadFileTool, WriteFileTool
from agent_tui.core.tools.registry import builtin_tools
from agent_tui.core.tools.shell import DATA_TAIL, OUTPUT_TAIL, ShellTool
from agent_tui.core.tools.write_document import WriteDocumentTool
from tests.helpers import HANG, Sink, alive, wait_for


def make_ctx(workspace: Path, settings: Any = None, **kwargs: Any) -> ToolContext:
    return ToolContext(
        workspace=workspace,
        emit=kwargs.pop("emit", None) or Sink(),
        goal_id=1,
        step_id=2,
        action_id=3,
        cancelled=asyncio.Event(),
        settings=settings,
        **kwargs,
    )


def fast_settings(timeout: float = 600.0, grace: float = 0.3) -> Settings:
    conf = Settings()
    conf.shell.timeout = timeout
    conf.shell.kill_grace = grace
    return conf


async def call(tool: Tool, ctx: ToolContext, **raw: Any) -> ToolResult:
    return await asyncio.wait_for(tool.run(tool.parse(raw), ctx), 30)


def unique_sleep() -> str:
    """A ``sleep`` duration no other test uses, to find the process by."""
    return f"100.{uuid.uuid4().int % 10**8}"


# --- shell ---------------------------------------------------------------------------------------


async def test_shell_streams_chunks_as_they_arrive(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    result = await call(ShellTool(), ctx, command="echo one; echo err >&2; sleep 0.3; echo two")
    done = time.monotonic()
    sink = ctx.emit
    assert isinstance(sink, Sink)
    assert result.ok and result.error is None
    assert result.output == "one\ntwo"
    assert sink.text() == "one\ntwo\n"
    assert sink.text("stderr") == "err\n"
    first = next(t for s, text, t in sink.chunks if s == "stdout" and "one" in text)
    assert done - first >= 0.25, "the first chunk should arrive before the command ends"
    assert result.data["exit_code"] == 0
    assert result.data["stdout"] == "one\ntwo\n"
    assert result.data["stderr"] == "err\n"
    assert result.data["command"].startswith("echo one")
    assert result.data["duration"] >= 0.3


async def test_shell_nonzero_exit(tmp_path: Path):
    result = await call(
        ShellTool(), make_ctx(tmp_path), command="echo partial; echo bad >&2; exit 3"
    )
    assert not result.ok
    assert result.data["exit_code"] == 3
    assert result.data["stderr"] == "bad\n"
    assert result.output == "partial"
    assert result.error == "exit code 3: bad"
    assert result.transient is False


async def test_shell_exit_75_is_transient(tmp_path: Path):
    result = await call(ShellTool(), make_ctx(tmp_path), command="exit 75")
    assert not result.ok and result.transient
    assert result.error == "exit code 75"


async def test_shell_killed_by_signal(tmp_path: Path):
    result = await call(ShellTool(), make_ctx(tmp_path), command="kill -9 $$")
    assert not result.ok
    assert result.data["exit_code"] == -9
    assert result.error == "killed by SIGKILL"


async def test_shell_long_line_and_output_caps(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    result = await call(ShellTool(), ctx, command="head -c 200000 /dev/zero | tr '\\0' a")
    assert result.ok
    assert result.output == "a" * 200_000
    assert ctx.emit.text() == "a" * 200_000  # type: ignore[attr-defined]
    assert result.data["stdout"] == "a" * DATA_TAIL

    ctx = make_ctx(tmp_path)
    command = "head -c 3000000 /dev/zero | tr '\\0' b; printf END"
    result = await call(ShellTool(), ctx, command=command)
    assert len(ctx.emit.text()) == 3_000_003  # type: ignore[attr-defined]
    assert len(result.output) == OUTPUT_TAIL
    assert result.output.endswith("bEND")


async def test_shell_timeout_kills_the_whole_group(tmp_path: Path):
    ctx = make_ctx(tmp_path, settings=fast_settings())
    mark = unique_sleep()
    result = await call(ShellTool(), ctx, command=f"sleep {mark} & wait", timeout=0.5)
    assert not result.ok
    assert result.error == "timed out after 0.5 s"
    assert not alive(mark)


async def test_shell_timeout_from_settings_and_sigkill_after_grace(tmp_path: Path):
    ctx = make_ctx(tmp_path, settings=fast_settings(timeout=0.3, grace=0.3))
    mark = unique_sleep()
    command = f"trap '' TERM; echo ready; sleep {mark} & wait"
    result = await call(ShellTool(), ctx, command=command)
    assert result.error == "timed out after 0.3 s"
    assert result.data["exit_code"] == -9
    assert not alive(mark)


async def test_shell_cancellation(tmp_path: Path):
    sink = Sink()
    ctx = make_ctx(tmp_path, settings=fast_settings(), emit=sink)
    mark = unique_sleep()
    task = asyncio.create_task(call(ShellTool(), ctx, command=f"sleep {mark} & echo up; wait"))
    await asyncio.wait_for(sink.arrived.wait(), 10)
    await wait_for(lambda: alive(mark))  # `echo up` may print before `sleep` has exec'd
    ctx.cancelled.set()
    result = await asyncio.wait_for(task, 10)
    assert not result.ok
    assert result.error == "cancelled"
    assert not alive(mark)


async def test_shell_already_cancelled_does_not_start(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    ctx.cancelled.set()
    result = await call(ShellTool(), ctx, command=f"touch {tmp_path / 'ran'}")
    assert result.error == "cancelled"
    assert not (tmp_path / "ran").exists()


async def test_shell_background_process_is_ended_after_success(tmp_path: Path):
    ctx = make_ctx(tmp_path, settings=fast_settings())
    mark = unique_sleep()
    # A hang guard, not a timing check: waiting for the sleeper would take its 100 s.
    result = await asyncio.wait_for(call(ShellTool(), ctx, command=f"sleep {mark} & echo up"), HANG)
    assert result.ok
    assert not alive(mark)


async def test_shell_utf8_split_across_reads(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    command = (
        "printf 'caf\\303'; sleep 0.2; printf '\\251 \\342\\202'; sleep 0.2; printf '\\254\\n'"
    )
    result = await call(ShellTool(), ctx, command=command)
    assert result.output == "café €"
    assert ctx.emit.text() == "café €\n"  # type: ignore[attr-defined]
    assert "\ufffd" not in ctx.emit.text()  # type: ignore[attr-defined]


async def test_shell_invalid_utf8_is_replaced(tmp_path: Path):
    result = await call(ShellTool(), make_ctx(tmp_path), command="printf 'a\\377b'")
    assert result.output == "a\ufffdb"


async def test_shell_env_cwd_and_stdin(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    command = 'echo "$GREETING"; pwd -P; cat; echo "path=${PATH:+set}"'
    result = await call(ShellTool(), ctx, command=command, env={"GREETING": "hi there"})
    assert result.output.splitlines() == ["hi there", str(tmp_path.resolve()), "path=set"]


async def test_shell_runs_python_children(tmp_path: Path):
    command = f"{sys.executable} -c 'import sys; print(sys.argv[1])' ok"
    result = await call(ShellTool(), make_ctx(tmp_path), command=command)
    assert result.output == "ok"


def test_shell_args_and_preview(tmp_path: Path):
    tool = ShellTool()
    assert tool.name == "shell" and tool.side_effects and tool.default_decision == "ask"
    for bad in ({"command": ""}, {"command": "  "}, {"command": "ls", "timeout": 0}, {}):
        with pytest.raises(ValidationError):
            tool.parse(bad)
    with pytest.raises(ValidationError):
        tool.parse({"command": "ls", "env": {"A=B": "x"}})
    assert tool.preview(tool.parse({"command": "ls -l"}), tmp_path) == "$ ls -l"
    preview = tool.preview(tool.parse({"command": "make", "timeout": 30}), tmp_path)
    assert preview == "$ make  (timeout 30 s)"


# --- read_file -----------------------------------------------------------------------------------


async def test_read_file(tmp_path: Path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# Title\nbody\n", encoding="utf-8")
    result = await call(ReadFileTool(), make_ctx(tmp_path), path="notes/a.md")
    assert result.ok
    assert result.output == "# Title\nbody\n"
    assert result.data == {
        "path": "notes/a.md",
        "bytes": 13,
        "size": 13,
        "truncated": False,
        "binary": False,
    }


async def test_read_file_truncates_on_a_character_boundary(tmp_path: Path):
    (tmp_path / "e.txt").write_text("ééééé", encoding="utf-8")  # 10 bytes
    result = await call(ReadFileTool(), make_ctx(tmp_path), path="e.txt", max_bytes=5)
    assert result.output == "éé"
    assert result.data["truncated"] is True
    assert result.data["bytes"] == 5
    assert result.data["size"] == 10
    full = await call(ReadFileTool(), make_ctx(tmp_path), path="e.txt", max_bytes=10)
    assert full.output == "ééééé" and full.data["truncated"] is False


async def test_read_binary_file(tmp_path: Path):
    (tmp_path / "b.bin").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    result = await call(ReadFileTool(), make_ctx(tmp_path), path="b.bin")
    assert result.ok and result.data["binary"] is True
    assert "\ufffd" in result.output


async def test_read_file_errors(tmp_path: Path):
    (tmp_path / "d").mkdir()
    tool = ReadFileTool()
    with pytest.raises(ToolError, match="does not exist"):
        await call(tool, make_ctx(tmp_path), path="missing.txt")
    with pytest.raises(ToolError, match="is a directory"):
        await call(tool, make_ctx(tmp_path), path="d")
    with pytest.raises(ValidationError):
        tool.parse({"path": "x", "max_bytes": 11 * 1024 * 1024})


# --- write_file ----------------------------------------------------------------------------------


async def test_write_file_creates_parents(tmp_path: Path):
    result = await call(WriteFileTool(), make_ctx(tmp_path), path="a/b/c.txt", content="one\n")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "one\n"
    assert result.ok
    assert result.data["created"] is True
    assert result.data["path"] == "a/b/c.txt"
    assert result.data["bytes"] == 4
    assert result.data["diff"].startswith("--- /dev/null\n+++ b/a/b/c.txt\n")
    assert "+one\n" in result.data["diff"]
    assert result.output == "created a/b/c.txt (4 bytes, +1 -0 lines)"
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "a/b/c.txt").stat().st_mode & 0o777 == 0o666 & ~mask


async def test_write_file_replaces_with_a_diff(tmp_path: Path):
    target = tmp_path / "f.txt"
    target.write_text("keep\nold\n")
    target.chmod(0o640)
    result = await call(WriteFileTool(), make_ctx(tmp_path), path="f.txt", content="keep\nnew")
    assert target.read_text() == "keep\nnew"
    assert result.data["created"] is False
    diff = result.data["diff"]
    assert diff.startswith("--- a/f.txt\n+++ b/f.txt\n")
    assert "-old\n" in diff and "+new\n\\ No newline at end of file\n" in diff
    assert result.output == "updated f.txt (8 bytes, +1 -1 lines)"
    assert target.stat().st_mode & 0o777 == 0o640


async def test_write_file_is_atomic(tmp_path: Path):
    target = tmp_path / "f.txt"
    target.write_text("old contents\n")
    inode = target.stat().st_ino
    with target.open() as reader:
        await call(WriteFileTool(), make_ctx(tmp_path), path="f.txt", content="new contents\n")
        assert reader.read() == "old contents\n", "an open reader keeps the complete old file"
    assert target.stat().st_ino != inode, "the file was replaced by a rename, not rewritten"
    assert target.read_text() == "new contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"], "no temporary file is left"


async def test_write_file_append(tmp_path: Path):
    target = tmp_path / "log.txt"
    target.write_text("first\n")
    inode = target.stat().st_ino
    result = await call(
        WriteFileTool(), make_ctx(tmp_path), path="log.txt", content="second\n", append=True
    )
    assert target.read_text() == "first\nsecond\n"
    assert target.stat().st_ino == inode
    assert result.data["created"] is False
    assert "+second\n" in result.data["diff"] and "-first" not in result.data["diff"]
    assert result.output.startswith("appended to log.txt")
    created = await call(
        WriteFileTool(), make_ctx(tmp_path), path="new.txt", content="x", append=True
    )
    assert created.data["created"] is True and (tmp_path / "new.txt").read_text() == "x"


async def test_write_file_diff_is_capped(tmp_path: Path):
    content = "".join(f"line {i}\n" for i in range(30_000))
    result = await call(WriteFileTool(), make_ctx(tmp_path), path="big.txt", content=content)
    diff = result.data["diff"]
    assert len(diff) <= DIFF_CAP + 100
    assert diff.endswith("... diff truncated\n")
    assert (tmp_path / "big.txt").read_text() == content


async def test_write_file_binary_original_and_errors(tmp_path: Path):
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe")
    result = await call(WriteFileTool(), make_ctx(tmp_path), path="b.bin", content="text\n")
    assert "diff omitted" in result.data["diff"]
    (tmp_path / "d").mkdir()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ToolError, match="is a directory"):
        await call(WriteFileTool(), make_ctx(tmp_path), path="d", content="x")
    with pytest.raises(ToolError):
        await call(WriteFileTool(), make_ctx(tmp_path), path="plain/child.txt", content="x")


def test_write_file_preview(tmp_path: Path):
    (tmp_path / "f.txt").write_text("a\n")
    tool = WriteFileTool()
    assert tool.side_effects and tool.default_decision == "allow"
    preview = tool.preview(tool.parse({"path": "f.txt", "content": "b\n"}), tmp_path)
    assert preview.splitlines()[0] == "replace f.txt"
    assert "-a" in preview and "+b" in preview
    new = tool.preview(tool.parse({"path": "n/g.txt", "content": "z\n"}), tmp_path)
    assert new.splitlines()[0] == "create n/g.txt"
    assert not (tmp_path / "n").exists(), "a preview changes nothing"
    assert (tmp_path / "f.txt").read_text() == "a\n"


# --- list_files ----------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("b.py", "a.txt", "src/main.py", "src/util/helpers.py", "src/util/data.json"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to("src")
    return tmp_path


async def test_list_files_flat(tree: Path):
    result = await call(ListFilesTool(), make_ctx(tree))
    assert result.output.splitlines() == ["a.txt", "b.py", "empty/", "link", "src/"]
    assert result.data == {"path": ".", "count": 5, "truncated": False}


async def test_list_files_recursive_with_pattern(tree: Path):
    result = await call(ListFilesTool(), make_ctx(tree), recursive=True)
    assert result.output.splitlines() == [
        "a.txt",
        "b.py",
        "empty/",
        "link",
        "src/",
        "src/main.py",
        "src/util/",
        "src/util/data.json",
        "src/util/helpers.py",
    ]
    py = await call(ListFilesTool(), make_ctx(tree), pattern="*.py", recursive=True)
    assert py.output.splitlines() == ["b.py", "src/main.py", "src/util/helpers.py"]
    sub = await call(ListFilesTool(), make_ctx(tree), path="src/util")
    assert sub.output.splitlines() == ["src/util/data.json", "src/util/helpers.py"]
    assert sub.data["path"] == "src/util"


async def test_list_files_limit_says_truncated(tree: Path):
    result = await call(ListFilesTool(), make_ctx(tree), recursive=True, limit=3)
    assert result.output.splitlines() == ["a.txt", "b.py", "empty/"]
    assert result.data["count"] == 3 and result.data["truncated"] is True
    exact = await call(ListFilesTool(), make_ctx(tree), limit=5)
    assert exact.data["truncated"] is False


async def test_list_files_errors(tree: Path):
    with pytest.raises(ToolError, match="not a directory"):
        await call(ListFilesTool(), make_ctx(tree), path="a.txt")
    with pytest.raises(ToolError, match="does not exist"):
        await call(ListFilesTool(), make_ctx(tree), path="nope")
    empty = await call(ListFilesTool(), make_ctx(tree), path="empty")
    assert empty.output == "" and empty.data["count"] == 0


# --- write_document and echo ---------------------------------------------------------------------


async def test_write_document(tmp_path: Path):
    saved: list[tuple[str, str, str]] = []

    def save(name: str, content: str, mime: str) -> tuple[int, int]:
        saved.append((name, content, mime))
        return 7, len(saved)

    ctx = make_ctx(tmp_path, save_document=save)
    tool = WriteDocumentTool()
    first = await call(tool, ctx, name="Report", content="# Hi")
    second = await call(tool, ctx, name="Report", content="hi", mime="text/plain")
    assert first.output == "saved document 'Report' (version 1)"
    assert second.data == {"artifact_id": 7, "version": 2, "name": "Report"}
    assert saved == [("Report", "# Hi", "text/markdown"), ("Report", "hi", "text/plain")]
    for bad in ({"name": "", "content": "x"}, {"name": "x" * 201, "content": "x"}):
        with pytest.raises(ValidationError):
            tool.parse(bad)
    with pytest.raises(ValidationError):
        tool.parse({"name": "x", "content": "x", "mime": "text/html"})


async def test_write_document_needs_a_store(tmp_path: Path):
    with pytest.raises(ToolError, match="documents are not available here"):
        await call(WriteDocumentTool(), make_ctx(tmp_path), name="x", content="y")


async def test_echo(tmp_path: Path):
    ctx = make_ctx(tmp_path)
    result = await call(EchoTool(), ctx, text="hello {{ world }}")
    assert result.ok and result.output == "hello {{ world }}"
    assert ctx.emit.text() == "hello {{ world }}"  # type: ignore[attr-defined]


def test_registry_schemas():
    tools = builtin_tools()
    assert set(tools) == {
        "shell",
        "python",
        "read_file",
        "write_file",
        "list_files",
        "web_fetch",
        "web_search",
        "write_document",
        "echo",
    }
    for tool in tools.values():
        schema = tool.schema()
        assert schema["name"] == tool.name and schema["description"]
        assert schema["parameters"]["type"] == "object"
        assert schema["parameters"].get("additionalProperties") is False
