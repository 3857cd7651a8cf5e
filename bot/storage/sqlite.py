"""SQLite storage: one long-lived connection per process, used the cheap way, from the event loop.

A statement on a small database takes microseconds and, once this connection holds SQLite's write lock,
can wait for nothing: so it runs on the event loop itself, without a trip to a worker thread and back.
The one step that may wait (taking the write lock from another process, up to the busy timeout) runs in
a thread. `SqliteStorage.transaction` holds an asyncio lock around all of it and starts with
``BEGIN IMMEDIATE``, which takes SQLite's write lock at once: other processes sharing the file wait instead
of racing, and the connection is used by one coroutine at a time, from whichever thread.

Each open storage is a worker with a name of its own (`bot.storage.workers`) whose OS lock beside the file
proves, once free, that the worker is gone.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.aio import to_the_end
from bot.errors import StartupError
from bot.storage.base import Storage, Tx
from bot.storage.connection import Connection
from bot.storage.convert import fetch_one
from bot.storage.lease import Lease
from bot.storage.workers import WorkerLock, worker_name

log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 10_000
_SQLITE_HEADER = b"SQLite format 3\x00"


class SqliteConnection:
    row_lock = ""  # SQLite has one writer at a time: nothing to skip

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, tuple(params))

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        return self.raw.execute(sql, tuple(params)).fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self.raw.execute(sql, tuple(params)).fetchall()


class SqliteStorage(Storage):
    def __init__(self, raw: sqlite3.Connection, path: Path, lease_seconds: float) -> None:
        self.worker = WorkerLock(path, worker_name())
        super().__init__(Lease(self.worker.name, lease_seconds))
        self._raw = raw
        self._conn = SqliteConnection(raw)
        self._lock = asyncio.Lock()
        self.path = path

    def __repr__(self) -> str:
        return f"SqliteStorage(path={str(self.path)!r}, worker={self.worker.name!r})"

    @classmethod
    async def connect(cls, path: Path, migrations: Sequence[Sequence[str]], lease_seconds: float) -> SqliteStorage:
        """Open (creating the folder and file if needed) and bring the schema up to date."""
        _make_folder(path)
        raw = await asyncio.to_thread(_connect, path, len(migrations))
        try:
            storage = cls(raw, path, lease_seconds)
            await storage._migrate(migrations)
            storage.worker.hold()  # only once the file is known to be ours: nothing is made beside another's
        except BaseException:
            raw.close()
            raise
        return storage

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for tests that watch its statements (never use it to write)."""
        return self._raw

    async def close(self) -> None:
        async with self._lock:
            self._raw.close()
            self.worker.let_go()

    async def schema_version(self) -> int:
        async with self._lock:
            row = self._raw.execute("PRAGMA user_version").fetchone()
        return int(row["user_version"]) if row else 0

    async def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} at {self.path}, schema version {await self.schema_version()}"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Cancellation is safe at every await. The write lock is taken at once when it is free; when another
        process holds it, the wait for it happens in a worker thread, which a cancelled caller cannot stop:
        its end is awaited, whatever happens, before the rollback and before the lock is released. The
        statements themselves run on the event loop and cannot be cut in half.
        """
        async with self._lock:
            try:
                if not self._begin_at_once():
                    await to_the_end(asyncio.to_thread(self._raw.execute, "BEGIN IMMEDIATE"))
                yield Tx(self._conn, self._lease, self._prove_gone)
                self._raw.execute("COMMIT")
            except BaseException:
                if self._raw.in_transaction:
                    self._raw.execute("ROLLBACK")
                raise

    async def _prove_gone(self, _conn: Connection, workers: Sequence[str]) -> list[str]:
        return self.worker.gone(workers)

    def _begin_at_once(self) -> bool:
        """Take the write lock if it is free now, without waiting; False if another connection holds it."""
        self._raw.execute("PRAGMA busy_timeout = 0")
        try:
            self._raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # any kind of busy (BUSY_RECOVERY while WAL starts)
                raise
            return False
        finally:
            self._raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return True

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


def _make_folder(path: Path) -> None:
    if path.is_dir():
        raise StartupError(f"{path} is a folder, not a database file: point DATABASE_URL at a file in it.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"the folder {path.parent} for the database cannot be created ({exc.strerror or exc}): "
            "fix DATABASE_URL or the folder."
        ) from None


def _connect(path: Path, known_version: int) -> sqlite3.Connection:
    """Open the file with the settings every connection needs (in a thread: WAL may wait for a lock).

    A file that is not this bot's database, or is a newer version's, is refused before anything is written.
    """
    _check_header(path)
    try:
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise StartupError(f"the database {path} cannot be opened ({exc}): check DATABASE_URL.") from None
    try:
        raw.row_factory = sqlite3.Row  # columns by name
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _check_schema(raw, path, known_version)
        _set_wal(raw)
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        raw.close()
        raise StartupError(f"the database {path} cannot be used ({exc}): check DATABASE_URL.") from None
    except BaseException:
        raw.close()
        raise
    return raw


def _set_wal(raw: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite answers "locked" at once, without waiting, when another process is making or
    switching the same new file this instant (bots started together on an empty database): try again."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            raw.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return  # a new database
    except OSError as exc:
        raise StartupError(f"the database {path} cannot be read ({exc.strerror or exc}): check DATABASE_URL.") from None
    if not _SQLITE_HEADER.startswith(header):  # empty or shorter: another process is creating it this instant
        raise _not_ours(path)


def _check_schema(raw: sqlite3.Connection, path: Path, known_version: int) -> None:
    # One statement, so one snapshot: another process may be applying the first migration meanwhile.
    version, has_tables = raw.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), EXISTS (SELECT 1 FROM sqlite_master)"
    ).fetchone()
    if version > known_version:
        raise StartupError(
            f"the database {path} was written by a newer imagine-bot (schema version {version}; this one knows "
            f"up to {known_version}): upgrade imagine-bot, or point DATABASE_URL at another file."
        )
    if version == 0 and has_tables:
        raise _not_ours(path)  # another program's tables: never add ours beside them


def _not_ours(path: Path) -> StartupError:
    return StartupError(f"{path} is not an imagine-bot database; point DATABASE_URL at another file.")
