"""What a sandboxed command never sees: secret stores, system secrets and agent-tui's own files."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable
from pathlib import Path

from agent_tui import paths

SECRET_STORES: tuple[str, ...] = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".password-store",
    ".vault-token",
    ".npmrc",
    ".pypirc",
    ".terraform.d",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".config/gcloud",
    ".config/gh",
    ".config/hub",
    ".config/op",
    ".config/rclone",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".bash_history",
    ".zsh_history",
    ".python_history",
)
"""Paths under a home directory that hold credentials, keys, cookies or shell history."""

SYSTEM_SECRETS: tuple[str, ...] = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/master.passwd",
    "/etc/ssl/private",
    "/run/user",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/run/podman",
)
"""System files and sockets a command has no business reading or connecting to."""

_HOST_KEYS = Path("/etc/ssh")


def homes() -> list[Path]:
    """The home directories secret stores are looked for in: ``$HOME`` and the account's own."""
    found: list[Path] = []
    for raw in (os.environ.get("HOME"), _account_home()):
        if raw:
            home = Path(raw).expanduser().absolute()
            if home not in found and str(home) != "/":
                found.append(home)
    return found


def _account_home() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return None


def agent_tui_paths(extra: Iterable[Path] = ()) -> list[Path]:
    """agent-tui's config, data and state directories, the database and its journal files."""
    db = paths.db_path()
    found = [paths.config_dir(), paths.data_dir(), paths.state_dir(), db]
    found += [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    return [*found, *extra]


def hidden_paths(extra: Iterable[Path] = ()) -> list[Path]:
    """Every existing path to hide, symlinks resolved."""
    wanted: list[Path] = []
    for home in homes():
        wanted += [home / rel for rel in SECRET_STORES]
    wanted += [Path(p) for p in SYSTEM_SECRETS]
    try:
        wanted += sorted(_HOST_KEYS.glob("ssh_host_*_key"))
    except OSError:
        pass
    wanted += agent_tui_paths(extra)
    out: list[Path] = []
    for path in wanted:
        if not os.path.exists(path):
            continue
        real = Path(os.path.realpath(path))  # a mount lands on the link's target anyway
        if real not in out:
            out.append(real)
    return out
