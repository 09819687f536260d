"""A tool's command line wrapped in bubblewrap, with the mounts that make the sandbox.

Mounts are ordered parent before child, so a hidden directory that holds the workspace (the default
workspace lives in agent-tui's data directory) is hidden first and the workspace bound back on top,
and a secret store inside the workspace (a workspace that is a home directory) is hidden after it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_tui.core.sandbox.hidden import hidden_paths, homes
from agent_tui.core.sandbox.probe import SandboxStatus, sandbox_status
from agent_tui.core.tool_errors import ToolError

if TYPE_CHECKING:
    from agent_tui.core.tools.base import ToolContext

SANDBOXED_TOOLS = frozenset({"shell", "python"})
"""Tools whose processes run in the sandbox."""
PRIVATE_TMP = (Path("/tmp"), Path("/var/tmp"))
"""Replaced by empty private directories: a command sees none of the host's temporary files."""
READ_ONLY_IN_WORKSPACE = (".git/config", ".git/hooks", ".agent-tui")
"""Parts of the workspace a command may read but never change: they decide what later commands run."""
READ_ONLY_IN_HOME = (
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv",
    ".zprofile", ".zlogin", ".config/fish", ".config/autostart", ".config/systemd", ".local/bin",
    ".gitconfig", ".config/git", ".pam_environment", ".xprofile", ".xinitrc",
)  # fmt: skip
"""When a workspace holds a home directory, what runs at the user's next login stays read-only."""


class SandboxError(ToolError):
    """The sandbox is required and cannot run; the message says how to fix it."""


def _settings(ctx_settings: Any) -> Any:
    return getattr(ctx_settings, "sandbox", None)


def status_for(settings: Any) -> SandboxStatus:
    """The sandbox status for these settings (``None`` settings: the default, ``auto``)."""
    section = _settings(settings)
    return sandbox_status(getattr(section, "mode", "auto"))


def network_for(settings: Any, approved: bool) -> bool:
    """Whether a command gets the network: ``on``; ``approved`` and a person approved it; never ``off``."""
    mode = getattr(_settings(settings), "network", "approved")
    return mode == "on" or (mode == "approved" and approved)


def approval_note(settings: Any, tool_name: str) -> str | None:
    """What approving a shell or python action means here, for the approval view."""
    if tool_name not in SANDBOXED_TOOLS:
        return None
    status = status_for(settings)
    if status.active:
        net = "with" if network_for(settings, True) else "without"
        return (
            f"if approved: runs in the sandbox {net} network, writing only the workspace and /tmp"
        )
    if status.required_but_missing:
        return f"the sandbox is required but {status.detail}: it will be refused"
    return f"no sandbox ({status.detail}): if approved, runs with your full permissions"


def sandboxed(argv: Sequence[str], ctx: ToolContext, *, readable: Sequence[Path] = ()) -> list[str]:
    """``argv`` as it must run for ``ctx``: inside bubblewrap, or as is with the sandbox off.

    ``readable`` are extra paths outside the workspace the command must read (the python tool's
    script). Raises :class:`SandboxError` when ``[sandbox] mode = "bwrap"`` and it cannot run.
    """
    status = status_for(ctx.settings)
    if status.required_but_missing:
        raise SandboxError(f'sandbox required ([sandbox] mode = "bwrap") but {status.detail}')
    if not status.active:
        return list(argv)
    assert status.program is not None
    return bwrap_argv(
        status.program,
        argv,
        ctx.workspace,
        network=network_for(ctx.settings, ctx.approved),
        readable=readable,
        hidden_extra=[Path(p) for p in getattr(_settings(ctx.settings), "hide", ())],
    )


def bwrap_argv(
    program: str,
    argv: Sequence[str],
    workspace: Path,
    *,
    network: bool,
    readable: Sequence[Path] = (),
    hidden_extra: Sequence[Path] = (),
) -> list[str]:
    """The bubblewrap command line that runs ``argv`` in ``workspace``."""
    ws = Path(os.path.realpath(workspace))
    if ws == Path("/"):
        raise SandboxError(
            "the workspace is / : a sandboxed command would be able to write anywhere"
        )
    extra = [Path(os.path.realpath(p)) for p in readable]
    extra += [p for p in runtime_paths() if not _under(p, ws) and p not in extra]
    mounts: list[tuple[Path, list[str]]] = []
    read_only: list[Path] = []
    for tmp in PRIVATE_TMP:
        if tmp.is_dir() and not tmp.is_symlink():
            mounts.append((tmp, ["--tmpfs", str(tmp)]))
    for home in homes():
        cache = home / ".cache"
        if cache.is_dir() and not cache.is_symlink() and not _under(ws, cache):
            mounts.append((cache, ["--tmpfs", str(cache)]))
    hidden = hidden_paths(hidden_extra)
    for path in hidden:
        holds_a_bind = _under(ws, path) or any(_under(p, path) for p in extra)
        if _under_private_tmp(path) and not _under(path, ws) and not holds_a_bind:
            continue  # already gone with the private /tmp (and nothing is bound inside it)
        if any(_under(path, other) and other != path for other in hidden) and not _under(path, ws):
            continue  # inside a hidden folder: hiding the folder hides it
        if path.is_dir():
            mounts.append((path, ["--tmpfs", str(path)]))
            read_only.append(path)
        else:
            mounts.append((path, ["--ro-bind", "/dev/null", str(path)]))
    mounts.append((ws, ["--bind", str(ws), str(ws)]))
    for rel in READ_ONLY_IN_WORKSPACE:
        inside = ws / rel
        if os.path.lexists(inside) and not inside.is_symlink():
            mounts.append((inside, ["--ro-bind", str(inside), str(inside)]))
    for home in homes():
        if _under(home, ws):
            for rel in READ_ONLY_IN_HOME:
                inside = home / rel
                if os.path.lexists(inside) and not inside.is_symlink():
                    mounts.append((inside, ["--ro-bind", str(inside), str(inside)]))
    for path in extra:
        mounts.append((path, ["--ro-bind", str(path), str(path)]))
    mounts.sort(key=lambda item: len(item[0].parts))
    out = [program, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for _, args in mounts:
        out += args
    for path in read_only:
        out += ["--remount-ro", str(path)]
    out += ["--unshare-all"]
    if network:
        out += ["--share-net"]
    out += ["--cap-drop", "ALL", "--die-with-parent", "--chdir", str(ws), "--", *argv]
    return out


def runtime_paths() -> list[Path]:
    """Where the commands' programs live that the private ``/tmp`` would hide: directories on
    ``PATH`` and this Python's installation (a virtual environment created under ``/tmp``).
    Bound read-only, so ``python3`` and the python tool still run."""
    found: list[Path] = []
    candidates = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    candidates += [Path(sys.prefix), Path(sys.exec_prefix), Path(sys.base_prefix)]
    candidates.append(Path(os.path.realpath(sys.executable)).parent)
    for raw in candidates:
        if not raw.is_absolute():
            continue
        path = Path(os.path.realpath(raw))
        if path in PRIVATE_TMP or not _under_private_tmp(path) or not path.is_dir():
            continue
        if path not in found:
            found.append(path)
    return found


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _under_private_tmp(path: Path) -> bool:
    return any(_under(path, tmp) for tmp in PRIVATE_TMP)
