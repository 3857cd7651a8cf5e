"""SQLite storage: one long-lived connection, migrations, and every SQL statement.

`Storage.transaction()` is the only way in. It serialises this process's work on the connection with a
lock and starts with ``BEGIN IMMEDIATE``, which takes SQLite's write lock at once: other processes
sharing the file wait (up to the busy timeout) instead of racing. That wait happens in a worker thread;
the statements after it run on the event loop, where they take microseconds and can wait for nothing
(`bot.storage.sqlite`). Rows become models (`bot.models`) before they leave the package.

Each open storage is a worker with a name of its own (`bot.storage.workers`), under which it leases the
jobs it works on (`bot.storage.jobs`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Coroutine, Generator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.aio import to_the_end
from bot.errors import StartupError
from bot.storage.convert import fetch_one
from bot.storage.guilds import GuildsTable
from bot.storage.jobs import NOW_MS, JobsTable, Lease
from bot.storage.migrations import MIGRATIONS
from bot.storage.moderation import ModerationTable
from bot.storage.spend import SpendTable
from bot.storage.sqlite import Connection
from bot.storage.workers import WorkerLock, worker_name

__all__ = ["DEFAULT_LEASE_SECONDS", "Opening", "Storage", "Tx"]

log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 10_000
_SQLITE_HEADER = b"SQLite format 3\x00"
DEFAULT_LEASE_SECONDS = 15.0


class Tx:
    """One transaction's view of the tables."""

    def __init__(self, conn: Connection, lease: Lease) -> None:
        self.spend = SpendTable(conn)
        self.guilds = GuildsTable(conn)
        self.jobs = JobsTable(conn, lease)
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

    async def take_login_turn(self, bucket: int, gap_seconds: float) -> float:
        """Take the bucket's turn to log in to Discord's gateway if it has come (0), else how long until it
        does: turns come `gap_seconds` apart, across every process on the database."""
        gap = round(gap_seconds * 1000)
        row = await fetch_one(
            self._conn,
            f"SELECT next_at - {NOW_MS} AS wait FROM login_turns WHERE bucket = ?",
            (bucket,),
        )
        if row is not None and row["wait"] > 0:
            return float(row["wait"]) / 1000
        await self._conn.execute(
            f"INSERT INTO login_turns (bucket, next_at) VALUES (?, {NOW_MS} + ?) "
            "ON CONFLICT (bucket) DO UPDATE SET next_at = excluded.next_at",
            (bucket, gap),
        )
        return 0.0


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
    def __init__(self, raw: sqlite3.Connection, path: Path, lease_seconds: float) -> None:
        self._raw = raw
        self._conn = Connection(raw)
        self._lock = asyncio.Lock()
        self.path = path
        self.worker = WorkerLock(path, worker_name())
        self._lease = Lease(self.worker.name, lease_seconds)

    def __repr__(self) -> str:
        return f"Storage(path={str(self.path)!r}, worker={self.worker.name!r})"

    @classmethod
    def open(
        cls,
        path: Path,
        migrations: Sequence[Sequence[str]] = MIGRATIONS,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Opening:
        """Open (creating the folder and file if needed) and bring the schema up to date.

        Use it as ``async with Storage.open(path) as storage:``, or ``await`` it and close the storage yourself.
        Leases this storage takes on jobs last `lease_seconds` unless renewed.
        """
        return Opening(cls._connect(path, migrations, lease_seconds))

    @classmethod
    async def _connect(cls, path: Path, migrations: Sequence[Sequence[str]], lease_seconds: float) -> Storage:
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
    def lease_seconds(self) -> float:
        return self._lease.seconds

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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Cancellation is safe at every await. The write lock is taken at once when it is free; when another
        process holds it, the wait for it happens in a worker thread, which a cancelled caller cannot stop:
        its end is awaited, whatever happens, before the rollback and before the lock is released. The
        statements themselves run on the event loop and cannot be cut in half.
        """
        async with self._lock:
            try:
                if not self._begin_at_once():
                    await to_the_end(asyncio.to_thread(self._raw.execute, "BEGIN IMMEDIATE"))
                yield Tx(self._conn, self._lease)
                self._raw.execute("COMMIT")
            except BaseException:
                if self._raw.in_transaction:
                    self._raw.execute("ROLLBACK")
                raise

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
