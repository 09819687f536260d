"""Where agent-tui keeps its files: platformdirs, or everything under ``AGENT_TUI_HOME``.

Paths are computed on each call (so tests can change the environment) and directories are created on
first use by :func:`ensure_dir`, never at import.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "agent-tui"
HOME_ENV = "AGENT_TUI_HOME"
CONFIG_ENV = "AGENT_TUI_CONFIG"
STORE_URL_ENV = "AGENT_TUI_STORE_URL"
"""The PostgreSQL server the database is on (``[store] url``); unset: the SQLite file."""
"""Names the config file (``--config FILE`` sets it, so subprocesses read the same file)."""


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().absolute() if value else None


def config_dir() -> Path:
    """The directory holding ``config.toml``."""
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """The directory holding the database, outputs and default workspaces."""
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))


def state_dir() -> Path:
    """The directory holding logs."""
    home = _home()
    return home / "state" if home else Path(platformdirs.user_state_dir(APP_NAME))


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    """``config.toml`` in the config directory, or the file ``AGENT_TUI_CONFIG`` names."""
    value = (os.environ if environ is None else environ).get(CONFIG_ENV, "").strip()
    return Path(value).expanduser().absolute() if value else config_dir() / "config.toml"


def db_path() -> Path:
    """The SQLite database; ``AGENT_TUI_DB`` overrides it."""
    override = os.environ.get("AGENT_TUI_DB", "").strip()
    return Path(override).expanduser().absolute() if override else data_dir() / "agent-tui.db"


def outputs_dir() -> Path:
    """Full tool output streams, one ``<action id>.log`` per action."""
    return data_dir() / "outputs"


def workspaces_dir() -> Path:
    return data_dir() / "workspaces"


def themes_dir() -> Path:
    return config_dir() / "themes"


def log_file() -> Path:
    return state_dir() / "agent-tui.log"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing and return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
