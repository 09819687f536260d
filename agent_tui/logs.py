"""The log file every process appends to: rotated by size, redacted, quiet when it cannot write.

:func:`setup` is called once per process by every entry point (the CLI, serve's tab processes).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from typing import TYPE_CHECKING

from agent_tui import paths

if TYPE_CHECKING:
    from agent_tui.config import Settings


class RedactingFilter(logging.Filter):
    """Secrets never reach the log file: the process's redactor, config names included."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: Settings | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        from agent_tui.config import ConfigError, Settings, load_settings
        from agent_tui.core.secrets import for_settings

        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError:
                self._settings = Settings()  # the command itself reports the broken config
        redactor = for_settings(self._settings)
        if redactor:
            record.msg = redactor.redact(record.getMessage())
            record.args = ()
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redactor.redact(
                    logging.Formatter().formatException(record.exc_info)
                )
                record.exc_info = None
        return True


def log_settings(level: str | None) -> tuple[str, int, int]:
    """Level, rotation size and backups: ``--log-level``, else ``[log]`` in the config, else
    defaults. A config that cannot be read is the command's own error to report, not logging's."""
    from agent_tui.config import ConfigError, LogSettings, load_settings

    try:
        conf = load_settings().log
    except ConfigError:
        conf = LogSettings()
    return level or conf.level, conf.max_bytes, conf.backups


class LogFile(logging.handlers.RotatingFileHandler):
    """The log file; when it cannot be written (a full disk) it says so once, on stderr, and
    drops log lines quietly instead of printing a traceback for each of them."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            exc = sys.exc_info()[1]
            why = getattr(exc, "strerror", None) or exc
            print(
                f"agent-tui: cannot write the log file {self.baseFilename}: {why} "
                "(log lines are dropped until it can)",
                file=sys.stderr,
            )


def setup(level: str | None = None) -> None:
    """Log to ``agent-tui.log`` in the state directory, rotated by size.

    Every process (TUI, workers, serve's tabs) appends to the same file; each rotates it when it
    sees it past the size, so the files on disk stay bounded by about (backups + 1) x max_bytes.
    """
    name, max_bytes, backups = log_settings(level)
    try:
        log_path = paths.ensure_dir(paths.state_dir()) / "agent-tui.log"
        handler: logging.Handler = LogFile(
            log_path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, name.upper()))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
