"""SQLite storage: one long-lived aiosqlite connection, migrations, and every SQL statement.

`Storage.transaction()` is the only way in. It serialises this process's work on the connection
with a lock (aiosqlite shares one connection between coroutines, so a transaction spanning awaits
must not interleave with another) and starts with ``BEGIN IMMEDIATE``, which takes SQLite's write
lock at once: other processes sharing the file wait (up to the busy timeout) instead of racing.
Rows become models (`bot.models`) before they leave the package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Generator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.aio import to_the_end
from bot.storage.convert import fetch_one
from bot.storage.guilds import GuildsTable
from bot.storage.jobs import JobsTable
from bot.storage.migrations import MIGRATIONS
from bot.storage.moderation import ModerationTable
from bot.storage.spend import SpendTable

__all__ = ["Opening", "Storage", "Tx"]

log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 10_000


class Tx:
    """One transaction's view of the tables."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.spend = SpendTable(conn)
        self.guilds = GuildsTable(conn)
        self.jobs = JobsTable(conn)
        self.moderation = ModerationTable(conn)
        self._conn = conn

    async def get_state(self, key: str) -> str | None:
        row = await fetch_one(self._conn, "SELECT value FROM app_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_state(self, key: str, value: str) -> None:
        await self._conn.execute(
            "INSERT INTO app_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class Opening:
    """A storage being opened: ``await`` it, or use it as an async context manager that closes it."""

    def __init__(self, connecting: Coroutine[Any, Any, Storage]) -> None:
        self._connecting = connecting
        self._storage: Storage | None = None

    def __await__(self) -> Generator[Any, None, Storage]:
        return self._connecting.__await__()

    async def __aenter__(self) -> Storage:
        self._storage = await self._connecting
        return self._storage

    async def __aexit__(self, *_: object) -> None:
        assert self._storage is not None
        await self._storage.close()


class Storage:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    def __repr__(self) -> str:
        return f"Storage(path={str(self.path)!r})"

    @classmethod
    def open(cls, path: Path, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> Opening:
        """Open (creating the folder and file if needed) and bring the schema up to date.

        Use it as ``async with Storage.open(path) as storage:``, or ``await`` it and close the storage yourself.
        """
        return Opening(cls._connect(path, migrations))

    @classmethod
    async def _connect(cls, path: Path, migrations: Sequence[Sequence[str]]) -> Storage:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row  # columns by name
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA synchronous = NORMAL")
            storage = cls(conn, path)
            await storage._migrate(migrations)
        except BaseException:
            await conn.close()
            raise
        return storage

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def schema_version(self) -> int:
        async with self._lock:
            row = await fetch_one(self._conn, "PRAGMA user_version")
        return int(row["user_version"]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Cancellation is safe at every await: aiosqlite runs each statement in its own thread, where a
        cancelled caller cannot stop it, so the rollback is queued behind whatever is still in flight and
        awaited to its end before the lock is released. A cancellation that arrives while COMMIT runs
        cannot undo it: the work is kept, and the cancellation propagates once the commit is done.
        """
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield Tx(self._conn)
            except BaseException:
                await to_the_end(self._conn.rollback())
                raise
            try:
                await to_the_end(self._conn.commit())
            except BaseException:
                await to_the_end(self._conn.rollback())
                raise

    async def _migrate(self, migrations: Sequence[Sequence[str]]) -> None:
        """Apply each pending migration in a transaction of its own; another process may race us."""
        for number, statements in enumerate(migrations, start=1):
            async with self.transaction():
                row = await fetch_one(self._conn, "PRAGMA user_version")
                if row is not None and int(row["user_version"]) >= number:
                    continue
                for statement in statements:
                    await self._conn.execute(statement)
                await self._conn.execute(f"PRAGMA user_version = {number}")
            log.info("database %s: applied migration %d", self.path, number)
