"""A shadow git repository per workspace, in agent-tui's data directory, never in the user's ``.git``.

The git program does the work (``--git-dir`` is the shadow, ``--work-tree`` the workspace): it is
on every machine that has a workspace worth undoing, it reads the workspace's ``.gitignore`` files,
its index makes a snapshot of 10,000 unchanged files cost one ``stat`` each, and its diffs know text
from binary. The user's own git configuration, hooks and fsmonitor are never read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent_tui import paths

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""git's id of the empty tree: the "before" of a workspace's first snapshot."""
MAX_FILE_BYTES = 10 * 1024 * 1024
"""Default size above which a file is not snapshotted (it is named in the record instead)."""
DIFF_CAP = 256 * 1024
LAST_FILE = "agent-tui-last"
"""The latest snapshot's tree id, beside the shadow's index."""
"""Most characters of unified diff kept with one checkpoint."""
_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "agent-tui",
    "GIT_AUTHOR_EMAIL": "agent-tui@localhost",
    "GIT_COMMITTER_NAME": "agent-tui",
    "GIT_COMMITTER_EMAIL": "agent-tui@localhost",
    "LC_ALL": "C",
}
_CONFIG = (
    "-c", "core.autocrlf=false", "-c", "core.fsmonitor=false", "-c", "core.quotepath=false",
    "-c", "core.hooksPath=/dev/null", "-c", "core.symlinks=true", "-c", "gc.auto=0",
)  # fmt: skip


class CheckpointError(Exception):
    """A snapshot or restore that could not be made; the message says why."""


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file a checkpoint saw change."""

    path: str
    status: str
    """``added``, ``modified`` or ``deleted``."""
    added: int
    """Lines added (0 for a binary file)."""
    removed: int
    binary: bool
    size: int | None
    """Bytes after the change (``None`` when deleted)."""


@dataclass(frozen=True, slots=True)
class Change:
    """What changed between two snapshots."""

    files: tuple[FileChange, ...] = ()
    diff: str = ""
    """Unified diff of the text files, cut at :data:`DIFF_CAP` characters."""
    skipped: tuple[str, ...] = field(default_factory=tuple)
    """Files left out of the snapshot: larger than the cap, or git repositories of their own."""

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def summary(self) -> str:
        """``changed 3 files (+42 −7)``, or ``changed nothing``."""
        if not self.files:
            return "changed nothing"
        n = len(self.files)
        return f"changed {n} file{'s' if n != 1 else ''} (+{self.added} −{self.removed})"


def store_dir() -> Path:
    """Where every workspace's shadow repository lives."""
    return paths.data_dir() / "checkpoints"


def shadow_for(workspace: Path) -> Path:
    """The shadow repository of a workspace (by its real path)."""
    real = os.path.realpath(workspace)
    key = hashlib.sha256(real.encode()).hexdigest()[:16]
    return store_dir() / f"{Path(real).name[:40] or 'root'}-{key}.git"


class Shadow:
    """The shadow repository of one workspace."""

    def __init__(self, workspace: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        self.git_dir = shadow_for(workspace)
        self.max_file_bytes = max_file_bytes

    # -- plumbing --------------------------------------------------------------------------------

    def _git(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        program = shutil.which("git")
        if program is None:
            raise CheckpointError("git is not installed: install git to record checkpoints")
        argv = [
            program, f"--git-dir={self.git_dir}", f"--work-tree={self.workspace}", *_CONFIG, *args
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(_ENV)
        done = subprocess.run(
            argv, input=input, capture_output=True, env=env, cwd=self.workspace, check=False
        )
        if check and done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            raise CheckpointError(f"git {args[0]}: {said[-1] if said else done.returncode}")
        return done.stdout

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the shadow's lock: one snapshot or restore at a time, across processes and
        threads. The lock file sits beside the repository, so creating it is locked too."""
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.git_dir.with_suffix(".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._ensure()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _ensure(self) -> None:
        if (self.git_dir / "HEAD").exists():
            return
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        program = shutil.which("git")
        if program is None:
            raise CheckpointError("git is not installed: install git to record checkpoints")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | _ENV
        done = subprocess.run(
            [program, "init", "-q", "--bare", str(self.git_dir)], capture_output=True, env=env
        )
        if done.returncode != 0:
            raise CheckpointError(f"git init: {done.stderr.decode(errors='replace').strip()}")
        self._git("config", "core.bare", "false")
        (self.git_dir / "info").mkdir(exist_ok=True)
        (self.git_dir / "agent-tui-workspace").write_text(str(self.workspace) + "\n")

    # -- snapshots -------------------------------------------------------------------------------

    def snapshot(self) -> tuple[str, tuple[str, ...]]:
        """Record the workspace as it is; ``(tree id, files skipped)``. Call under :meth:`locked`.

        Three git calls at most (``add``, ``diff-index``, ``write-tree``), two when nothing
        changed. Snapshots are trees, not commits: nothing links one to another, so pruning one
        never keeps another alive.
        """
        if not self.workspace.is_dir():
            raise CheckpointError(f"workspace {self.workspace} is not a directory")
        last = self._last()
        self._git("add", "-A", "--ignore-errors", "--", ".", check=False)
        changed, skipped = self._changed_since(last or EMPTY_TREE)
        if last and not changed and not skipped:
            return last, ()
        tree = self._git("write-tree").decode().strip()
        (self.git_dir / LAST_FILE).write_text(tree + "\n")
        return tree, skipped

    def _last(self) -> str | None:
        try:
            return (self.git_dir / LAST_FILE).read_text().strip() or None
        except OSError:
            return None

    def _changed_since(self, last: str) -> tuple[bool, tuple[str, ...]]:
        """Whether the index differs from ``last``; unstage files over the size cap and nested
        repositories, and name them."""
        out = self._git("diff-index", "--cached", "-z", "--no-renames", last)
        fields = out.split(b"\0")
        skipped: list[str] = []
        changed = False
        for meta, raw in zip(fields[::2], fields[1::2], strict=False):
            changed = True
            parts = meta.split()
            if len(parts) < 5 or parts[-1] not in (b"A", b"M"):
                continue
            path = raw.decode(errors="surrogateescape")
            if parts[1] == b"160000":
                skipped.append(f"{path}/ (a git repository of its own)")
                continue
            try:
                size = os.lstat(self.workspace / path).st_size
            except OSError:
                continue
            if size > self.max_file_bytes:
                skipped.append(f"{path} ({size} bytes, over the {self.max_file_bytes} byte cap)")
        if skipped:
            names = [s.split(" (", 1)[0].rstrip("/") for s in skipped]
            # --cached: only the shadow index changes; -f: a file staged with new content goes too.
            self._git("rm", "-q", "--cached", "-r", "-f", "--ignore-unmatch", "--", *names)
        return changed, tuple(skipped)

    def keep(self, refs: dict[str, str]) -> None:
        """Name snapshots (``{name: tree}``) under ``refs/agent-tui/`` so pruning keeps them."""
        data = "".join(f"update refs/agent-tui/{r} {tree}\n" for r, tree in refs.items())
        if data:
            self._git("update-ref", "--stdin", input=data.encode())

    def forget(self, refs: Sequence[str]) -> None:
        """Drop these names; their commits go at the next :meth:`prune`."""
        data = "".join(f"delete refs/agent-tui/{r}\n" for r in refs).encode()
        if data:
            self._git("update-ref", "--stdin", input=data, check=False)

    def prune(self) -> None:
        """Remove what no name keeps, and pack the rest."""
        # Objects younger than an hour stay: a snapshot being taken right now is not named yet.
        self._git("gc", "-q", "--prune=1.hour.ago", check=False)

    # -- reading ---------------------------------------------------------------------------------

    def change(self, before: str, after: str, skipped: Sequence[str] = ()) -> Change:
        """What changed from snapshot ``before`` to ``after`` (two git calls; none if equal)."""
        if before == after:
            return Change((), "", tuple(skipped))
        out = self._git("diff", "--no-renames", "--raw", "--numstat", "-z", before, after)
        kinds: dict[str, str] = {}
        counts: dict[str, tuple[str, str]] = {}
        fields = out.split(b"\0")
        i = 0
        while i < len(fields):
            item = fields[i]
            if item.startswith(b":"):  # raw: ":old new sha sha STATUS" then the path
                kinds[fields[i + 1].decode(errors="surrogateescape")] = item.split()[-1].decode()
                i += 2
            elif item:
                plus, minus, name = item.split(b"\t", 2)
                counts[name.decode(errors="surrogateescape")] = (plus.decode(), minus.decode())
                i += 1
            else:
                i += 1
        files = []
        sizes = self._sizes(after, [p for p in counts if kinds.get(p) != "D"])
        for path, (add, rem) in counts.items():
            binary = add == "-"
            kind = {"A": "added", "D": "deleted"}.get(kinds.get(path, "M"), "modified")
            size = None if kind == "deleted" else sizes.get(path)
            files.append(
                FileChange(
                    path, kind, 0 if binary else int(add), 0 if binary else int(rem), binary, size
                )
            )
        diff = self._git("diff", "--no-renames", "--no-color", before, after)
        text = diff.decode(errors="replace")
        if len(text) > DIFF_CAP:
            text = text[:DIFF_CAP] + f"\n… (diff cut at {DIFF_CAP} characters)\n"
        return Change(tuple(files), text, tuple(skipped))

    def _sizes(self, tree: str, paths: Sequence[str]) -> dict[str, int]:
        """Sizes of ``paths`` in snapshot ``tree``, in one call."""
        if not paths:
            return {}
        out = self._git("ls-tree", "-r", "-l", "-z", tree, "--", *paths)
        sizes = {}
        for entry in out.split(b"\0"):
            if b"\t" not in entry:
                continue
            meta, raw = entry.split(b"\t", 1)
            size = meta.split()[-1]
            if size.isdigit():
                sizes[raw.decode(errors="surrogateescape")] = int(size)
        return sizes

    def differing(self, a: str, b: str, paths: Sequence[str]) -> list[str]:
        """Which of ``paths`` differ between commits ``a`` and ``b``."""
        if not paths:
            return []
        out = self._git("diff", "--no-renames", "--name-only", "-z", a, b, "--", *paths)
        return [p.decode(errors="surrogateescape") for p in out.split(b"\0") if p]

    def present(self, commit: str, paths: Sequence[str]) -> set[str]:
        """Which of ``paths`` exist in ``commit``."""
        if not paths:
            return set()
        out = self._git("ls-tree", "-r", "-z", "--name-only", commit, "--", *paths)
        return {p.decode(errors="surrogateescape") for p in out.split(b"\0") if p}

    # -- restoring -------------------------------------------------------------------------------

    def restore(self, commit: str, paths: Sequence[str]) -> None:
        """Write ``paths`` as they are in ``commit`` (git refuses to write through a symlink)."""
        if paths:
            self._git("checkout", "-q", commit, "--", *paths)

    def delete(self, paths: Sequence[str]) -> None:
        """Remove ``paths`` from the workspace (files only; never through a symlinked folder)."""
        for rel in paths:
            target = self.workspace / rel
            parent = os.path.realpath(target.parent)
            if parent != str(self.workspace) and not parent.startswith(
                str(self.workspace) + os.sep
            ):
                raise CheckpointError(f"{rel}: its folder now leads outside the workspace")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            _remove_empty_parents(target.parent, self.workspace)

    def size_bytes(self) -> int:
        """The shadow repository's size on disk."""
        return _tree_size(self.git_dir)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _tree_size(folder: Path) -> int:
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    return total


def store_size() -> int:
    """Bytes used by every shadow repository together."""
    folder = store_dir()
    return _tree_size(folder) if folder.is_dir() else 0
