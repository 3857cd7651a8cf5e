"""Storage: every SQL statement, behind one interface with two backends.

`open_storage(url)` opens the database a `DATABASE_URL` names: SQLite (`bot.storage.sqlite`, the embedded
default for one process) or PostgreSQL (`bot.storage.postgres`, for several). Either way,
`Storage.transaction()` is the only way in, and the tables (`bot.storage.jobs`, `.spend`, `.guilds`,
`.moderation`) do not know which database runs. Rows become models (`bot.models`) before they leave the
package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.storage.base import DEFAULT_LEASE_SECONDS, Opening, Storage, Tx
from bot.storage.migrations import MIGRATIONS
from bot.storage.sqlite import SqliteStorage
from bot.storage.urls import is_postgres_url, sqlite_path

__all__ = ["DEFAULT_LEASE_SECONDS", "Opening", "SqliteStorage", "Storage", "Tx", "open_sqlite", "open_storage"]


def open_storage(
    url: str, migrations: Sequence[Sequence[str]] = MIGRATIONS, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> Opening[Storage]:
    """Open the database `url` names and bring its schema up to date.

    Use it as ``async with open_storage(url) as storage:``, or ``await`` it and close the storage yourself.
    Leases this storage takes on jobs last `lease_seconds` unless renewed.
    """
    if is_postgres_url(url):
        from bot.storage.postgres import PostgresStorage  # asyncpg is loaded only by bots that use it

        return Opening(PostgresStorage.connect(url, migrations, lease_seconds))
    return Opening(SqliteStorage.connect(sqlite_path(url), migrations, lease_seconds))


def open_sqlite(
    path: Path, migrations: Sequence[Sequence[str]] = MIGRATIONS, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> Opening[SqliteStorage]:
    """Open the SQLite file at `path` (creating it and its folder if needed)."""
    return Opening(SqliteStorage.connect(path, migrations, lease_seconds))
