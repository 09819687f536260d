"""One browser tab's app: the TUI as a viewer, which ends when the server that started it does.

A clean stop of ``serve`` ends each tab's process group itself; this covers the server being killed
outright (SIGKILL, a crash), which would otherwise leave the viewers running with no one to talk to.
On Linux the kernel sends SIGTERM to the viewer when its parent dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> bool:
    """Ask for SIGTERM when ``parent`` dies; False if it already has (we were orphaned)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    return os.getppid() == parent


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parent = int(args[1]) if len(args) == 2 and args[0] == "--parent" and args[1].isdigit() else 0
    if parent and not die_with_parent(parent):
        return 0
    from agent_tui.cli import main as cli_main

    return cli_main(["--no-executor"])


if __name__ == "__main__":
    sys.exit(main())
