"""Opening the database: a SQLite file, or a PostgreSQL server (:mod:`.postgres`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agent_tui import paths
from agent_tui.core import secrets
from agent_tui.core.store.connection import Store

if TYPE_CHECKING:
    from agent_tui.config import Settings

SCHEMES = ("postgresql://", "postgres://")


def open_store(settings: Settings, address: Path | str | None = None) -> Store:
    """The database with this process's redactor, which knows the config's secret names: the
    only way front ends open it. ``address`` is a SQLite file or a ``postgresql://`` url (as
    :attr:`Store.address` gives); by default ``[store] url`` if set, else the data directory's
    SQLite file."""
    redactor = secrets.for_settings(settings)
    address = address or settings.store.url or paths.db_path()
    if isinstance(address, str) and address.startswith(SCHEMES):
        from agent_tui.core.store.postgres import PgStore

        return PgStore(address, redactor=redactor)
    return Store(address, redactor=redactor)
