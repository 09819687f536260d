"""Finished actions' results, made durable before the transaction that records them.

A command can end while its process cannot write (the database locked by another process, then
the process killed; a crash between the tool's end and the commit). Its result is written here
first, one small file per action (written to a temporary name, then renamed), and removed once
the transaction that records it commits.

The file is not fsynced: it outlives its process (the kernel keeps it), which is what the spool is
for, and like the SQLite database's own commits (WAL with ``synchronous=NORMAL``) it may be lost
to a power cut. An fsync cost 1–4 ms per action on this project's machines, most of a trivial
step's time, to guard against a loss the database itself does not guard against. A spooled result whose process is gone is *replayed*
(:func:`replay`): the action gets its real result, and its step moves on as if the process had
recorded it, so nothing is lost and nothing is run again because a write failed.

The spool lives in the state directory, one folder per database (its resolved path, hashed): it is
local to the host, as the processes that write it are.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent_tui import paths
from agent_tui.core.store import liveness, runs

log = logging.getLogger(__name__)

VERSION = 1


@dataclass(frozen=True, slots=True)
class Spooled:
    """One action's result, as its process saw it, and who that process was."""

    action_id: int
    step_id: int
    owner: str
    pid: int
    started_at: float
    ok: bool
    output: str
    data: dict[str, Any]
    error: str | None
    transient: bool
    cancelled: bool
    written_at: float

    def outcome(self) -> runs.Outcome:
        """The result as the store records it."""
        return runs.Outcome(
            ok=self.ok,
            output=self.output,
            data=self.data,
            error=self.error,
            transient=self.transient,
            cancelled=self.cancelled,
        )

    def owner_alive(self) -> bool:
        """Whether the process that wrote it still runs (pid and start time checked)."""
        return liveness.local_process_alive(self.pid, self.started_at)


def spool_dir(db_path: Path | str) -> Path:
    """The spool folder of one database."""
    key = hashlib.sha256(str(Path(db_path).resolve()).encode()).hexdigest()[:16]
    return paths.state_dir() / "spool" / key


class Spool:
    """The spool folder of one database, as one process uses it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pid = os.getpid()
        self.started_at = liveness.process_started_at(self.pid) or 0.0

    def path(self, action_id: int) -> Path:
        return self.folder / f"{action_id}.json"

    def put(self, entry: Spooled) -> Path | None:
        """Write ``entry`` (it outlives this process); ``None`` (and a log line) if the disk
        refuses it: the result is then recorded the usual way, without this safety net."""
        target = self.path(entry.action_id)
        temp = target.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = json.dumps({"version": VERSION, **asdict(entry)}).encode()
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except OSError as exc:
            log.warning("could not spool the result of action %s: %s", entry.action_id, exc)
            temp.unlink(missing_ok=True)
            return None
        return target

    def done(self, path: Path | None) -> None:
        """The result is recorded in the database: forget it."""
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:  # replay finds it recorded and removes it then
                log.warning("could not remove %s: %s", path, exc)

    def entries(self) -> list[tuple[Path, Spooled]]:
        """Every readable spooled result, oldest first; unreadable files are set aside."""
        try:
            names = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return []
        found: list[tuple[Path, Spooled]] = []
        for path in names:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                raw.pop("version", None)
                found.append((path, Spooled(**raw)))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, TypeError) as exc:
                log.warning("set aside an unreadable spooled result %s: %s", path, exc)
                try:
                    path.rename(path.with_suffix(".bad"))
                except OSError:
                    pass
        return found
