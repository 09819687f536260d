"""Whether commands can run in the sandbox here, found once per process and said in one line."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

Mode = Literal["auto", "bwrap", "off"]
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap)"
)


TRIAL_ARGS = (
    *("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"),
    *("--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--", "true"),
)
"""A sandbox like the real one around ``true``: if this runs, commands can run sandboxed."""


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """The sandbox as configured and as found: whether commands run in it, and why not."""

    mode: Mode
    """``[sandbox] mode``."""
    active: bool
    """Commands run inside bubblewrap."""
    program: str | None
    """The bubblewrap binary, when found."""
    detail: str
    """One line: ``bubblewrap 0.8.0`` or why there is no sandbox and how to get one."""

    @property
    def required_but_missing(self) -> bool:
        """``mode = "bwrap"`` and bubblewrap cannot run: shell and python are refused."""
        return self.mode == "bwrap" and not self.active

    @property
    def asks(self) -> bool:
        """``mode = "auto"`` without a usable sandbox: every shell and python action asks."""
        return self.mode == "auto" and not self.active

    @property
    def label(self) -> str:
        """A few words for the header: ``sandbox on``, ``no sandbox: commands ask``…"""
        if self.active:
            return "sandbox on"
        if self.mode == "off":
            return "sandbox off"
        if self.mode == "bwrap":
            return "sandbox missing: commands refused"
        return "no sandbox: commands ask"

    def sentence(self) -> str:
        """What this means for shell and python, for ``doctor`` and the welcome."""
        if self.active:
            return (
                f"{self.detail}: shell and python run read-only outside the workspace, with "
                "secret stores and agent-tui's own files hidden"
            )
        if self.mode == "off":
            return (
                'off ([sandbox] mode = "off"): shell and python run with your full permissions '
                "when a rule allows them"
            )
        if self.mode == "bwrap":
            return f'required ([sandbox] mode = "bwrap") but {self.detail}: shell and python are refused'
        return (
            f"unavailable ({self.detail}): every shell and python action asks, whatever the rules"
        )


def sandbox_status(mode: Mode = "auto") -> SandboxStatus:
    """The sandbox for ``mode``; bubblewrap is probed at most once per process."""
    if mode == "off":
        return SandboxStatus("off", False, None, 'off in the config ([sandbox] mode = "off")')
    ok, program, detail = _probe()
    return SandboxStatus(mode, ok, program, detail)


@functools.cache
def _probe() -> tuple[bool, str | None, str]:
    if not sys.platform.startswith("linux"):
        return False, None, f"bubblewrap needs Linux (this is {sys.platform})"
    program = shutil.which("bwrap")
    if program is None:
        return False, None, f"bubblewrap not found: {INSTALL_HINT}"
    try:
        trial = subprocess.run(
            [program, *TRIAL_ARGS],
            capture_output=True,
            timeout=10,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        version = subprocess.run(
            [program, "--version"], capture_output=True, timeout=10, check=False, text=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return False, program, f"{program} cannot run: {exc}"
    if trial.returncode != 0:
        said = trial.stderr.decode(errors="replace").strip().splitlines()
        why = said[-1] if said else f"exit code {trial.returncode}"
        return (
            False,
            program,
            f"{program} is refused here ({why}); user namespaces may be disabled "
            "(sysctl kernel.unprivileged_userns_clone=1)",
        )
    return True, program, version or "bubblewrap"
