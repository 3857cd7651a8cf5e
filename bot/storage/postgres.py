"""PostgreSQL storage, through asyncpg: for a bot on several processes, or machines, sharing one database.

- Each process has a small pool of connections. A transaction takes one and first takes the deployment's
  write lock (an advisory lock held until it commits), so the transactions of every process are serialised
  exactly as SQLite's ``BEGIN IMMEDIATE`` serialises them: a budget check and its reservation, a claim and
  its leases, are one step for the whole deployment. A read-only transaction (`reading()`) takes no lock:
  it sees what was committed, and never queues behind another process's writes. Nor does a write of one
  conditional statement on its own rows (`autocommit()`: a held job's move), which row locks order.
- The tables write SQLite's dialect (`bot.storage.connection`); `translate` (`bot.storage.pg_dialect`) turns it
  into PostgreSQL's.
  Migrations are the same numbered list with their DDL translated (`postgres_ddl`); the level is kept in
  `imagine_schema`, and they are applied under the same lock, so processes started together take turns.
- Every connection of a process carries its worker name as ``application_name``: a worker with no session
  left on the server is proven gone, and its leases need not be waited out.
- A database that cannot be reached while the bot runs is waited for: a transaction retries its start with
  backoff and says so in the log once (`reachable` feeds the health check). Nothing is lost: no statement
  of a transaction that did not start has run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import asyncpg

from bot.aio import to_the_end
from bot.errors import StartupError
from bot.storage.base import Storage, Tx
from bot.storage.connection import Connection
from bot.storage.lease import Lease
from bot.storage.pg_connection import AutocommitConnection, LockedStatementConnection, PostgresConnection
from bot.storage.pg_dialect import postgres_ddl
from bot.storage.pg_routines import LockedStatements
from bot.storage.urls import shown
from bot.storage.workers import worker_name

log = logging.getLogger(__name__)

WRITE_LOCK = 0x696D_6167_696E_65  # "imagine": the advisory lock every transaction takes first
CONNECT_TIMEOUT_SECONDS = 6.0  # a database that cannot be reached is reported within 10 s of starting
POOL_SIZE = 4
_BEGIN_WRITING = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
_BEGIN_READING = "BEGIN READ ONLY"
# A session idle inside a transaction is a process stopped in the middle of one (SIGSTOP, a hung host): the
# server ends it, so its write lock does not hold up every other process.
IDLE_IN_TRANSACTION_MS = 5_000
_RETRY_MAX_SECONDS = 10.0
# The database is gone for now (down, restarting, cut off, our session ended): wait for it.
_LOST = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


class PostgresStorage(Storage):
    def __init__(self, pool: asyncpg.Pool, url: str, lease: Lease) -> None:
        super().__init__(lease)
        self._pool = pool
        self._shown = shown(url)
        self._locked_statements = LockedStatements(WRITE_LOCK)

    def __repr__(self) -> str:
        return f"PostgresStorage(url={self._shown!r}, worker={self.worker_name!r})"

    @classmethod
    async def connect(cls, url: str, migrations: Sequence[Sequence[str]], lease_seconds: float) -> PostgresStorage:
        """Connect, and bring the schema up to date (one process at a time); StartupError in one line if the
        server cannot be reached, refuses us, or lacks the database."""
        name = worker_name()
        pool = await _create_pool(url, name)
        storage = cls(pool, url, Lease(name, lease_seconds))
        try:
            await storage._migrate(migrations)
        except BaseException:
            await pool.close()
            raise
        return storage

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), timeout=5)
        except TimeoutError:
            self._pool.terminate()

    async def schema_version(self) -> int:
        async with self.locked_connection() as conn:
            return await _version(conn)

    async def describe(self) -> str:
        async with self.locked_connection() as conn:
            version = await _version(conn)
            row = await conn.fetch_one("SHOW server_version")
        server = str(row["server_version"]).split(" ", 1)[0] if row else "?"
        return f"PostgreSQL {server} at {self._shown}, schema version {version}"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.locked_connection() as conn:
            yield Tx(conn, self._lease, _prove_gone)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        async with self._connection(write=False) as conn:
            yield Tx(conn, self._lease, _prove_gone)

    def autocommit(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        return self._outside_a_transaction(AutocommitConnection)

    def locked_statement(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        return self._outside_a_transaction(lambda raw: LockedStatementConnection(raw, self._locked_statements))

    @asynccontextmanager
    async def _outside_a_transaction(self, wrap: Callable[[asyncpg.Connection], Connection]) -> AsyncIterator[Tx]:
        """The tables on a connection of the pool that begins no transaction: `wrap` says how its statements run."""
        raw = await self._begin(None)
        try:
            yield Tx(wrap(raw), self._lease, _prove_gone)
        finally:
            await to_the_end(self._pool.release(raw))

    def locked_connection(self) -> contextlib.AbstractAsyncContextManager[PostgresConnection]:
        """A transaction holding the deployment's write lock, on a connection of the pool: `transaction()`
        without the tables, for this package's own statements (migrations, a copy)."""
        return self._connection(write=True)

    @asynccontextmanager
    async def _connection(self, *, write: bool) -> AsyncIterator[PostgresConnection]:
        raw = await self._begin(_BEGIN_WRITING if write else _BEGIN_READING)
        try:
            try:
                yield PostgresConnection(raw)
            except BaseException:
                if not raw.is_closed():
                    with contextlib.suppress(*_LOST):  # a lost connection has rolled back already
                        await to_the_end(raw.execute("ROLLBACK"))
                raise
            # Never cut in half: a cancellation now waits for the answer, so the transaction is known to have
            # committed (the block's effects stand, and its rows, a job with its reservation, say so).
            await to_the_end(raw.execute("COMMIT"))
        finally:
            await to_the_end(self._pool.release(raw))

    async def _begin(self, begin: str | None) -> asyncpg.Connection:
        """A connection in the transaction `begin` starts (one that holds the write lock, or a read-only one),
        or in none. While the database cannot be reached, wait for it with backoff: nothing has been done yet,
        so nothing is lost by waiting."""
        delay = 0.0  # a session the server ended is replaced at once; a server that is down is waited for
        while True:
            try:
                raw = await self._pool.acquire(timeout=CONNECT_TIMEOUT_SECONDS)
            except _LOST as exc:
                delay = await self._wait_for_the_database(exc, delay)
                continue
            try:
                # One trip: the transaction and, for a writer, the write lock it waits for. With none (autocommit),
                # a session the pool knew to be closed has been replaced; the first statement starts at once.
                if begin is not None:
                    await raw.execute(begin)
            except (*_LOST, asyncpg.InternalClientError) as exc:
                # The session ended under us (the server restarted, or ended it): this connection is done for.
                raw.terminate()
                await to_the_end(self._pool.release(raw))
                delay = await self._wait_for_the_database(exc, delay)
                continue
            except BaseException:
                await to_the_end(self._pool.release(raw))
                raise
            if not self.reachable:
                log.warning("the database %s is reachable again", self._shown)
                self.reachable = True
            return raw

    async def _wait_for_the_database(self, exc: BaseException, delay: float) -> float:
        """Sleep before the next try, longer each time; the next delay."""
        if delay and self.reachable:
            log.error("the database %s cannot be reached (%s); work waits for it", self._shown, _why(exc))
            self.reachable = False
        await asyncio.sleep(delay)
        return min(max(delay * 2, 0.2), _RETRY_MAX_SECONDS)

    async def _migrate(self, migrations: Sequence[Sequence[str]]) -> None:
        async with self.locked_connection() as conn:
            ours = await conn.fetch_one("SELECT to_regclass('imagine_schema') IS NOT NULL AS ours")
            if not (ours and ours["ours"]):
                others = await conn.fetch_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()) AS others"
                )
                if others and others["others"]:
                    raise StartupError(
                        f"the database at {self._shown} holds another program's tables and is not an imagine-bot "
                        "database: point DATABASE_URL at an empty database."
                    )
                await conn.execute("CREATE TABLE imagine_schema (version INTEGER NOT NULL)")
                await conn.execute("INSERT INTO imagine_schema (version) VALUES (0)")
            version = await _version(conn)
        if version > len(migrations):
            raise StartupError(
                f"the database at {self._shown} was written by a newer imagine-bot (schema version {version}; "
                f"this one knows up to {len(migrations)}): upgrade imagine-bot, or point DATABASE_URL elsewhere."
            )
        for number, statements in enumerate(migrations, start=1):
            async with self.locked_connection() as conn:
                if await _version(conn) >= number:
                    continue
                for statement in statements:
                    for translated in postgres_ddl(statement):
                        await conn.execute(translated)
                await conn.execute("UPDATE imagine_schema SET version = ?", (number,))
            log.info("database %s: applied migration %d", self._shown, number)


async def _version(conn: Connection) -> int:
    row = await conn.fetch_one("SELECT version FROM imagine_schema")
    return int(row["version"]) if row else 0


async def _prove_gone(conn: Connection, workers: Sequence[str]) -> list[str]:
    """Workers with no session left on this database: their process ended, or lost the server for good."""
    rows = await conn.fetch_all(
        "SELECT DISTINCT application_name FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = ANY(CAST(? AS text[]))",
        (list(workers),),
    )
    alive = {row["application_name"] for row in rows}
    return [worker for worker in workers if worker not in alive]


async def _keep_session(_: asyncpg.Connection) -> None:
    """A connection back in the pool needs no reset trip: a transaction left open is rolled back by asyncpg
    itself, and no session state (LISTEN, SET, session locks) is ever made here."""


async def _create_pool(url: str, name: str) -> asyncpg.Pool:
    where = _where(url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS + 1):
            pool: asyncpg.Pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                max_inactive_connection_lifetime=0,  # a worker keeps a session for as long as it lives
                reset=_keep_session,
                timeout=CONNECT_TIMEOUT_SECONDS,
                server_settings={
                    "application_name": name,
                    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
                },
            )
    except asyncpg.InvalidPasswordError:
        raise StartupError(f"PostgreSQL at {where} refused the password: check DATABASE_URL.") from None
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise StartupError(f"PostgreSQL at {where} refused the login ({exc}): check DATABASE_URL.") from None
    except asyncpg.InvalidCatalogNameError:
        database = _database_name(url)
        raise StartupError(
            f"PostgreSQL at {where} has no database {database!r}: create it (createdb {database}) or fix DATABASE_URL."
        ) from None
    except TimeoutError:
        raise StartupError(
            f"PostgreSQL at {where} did not answer within {CONNECT_TIMEOUT_SECONDS:g} s: check DATABASE_URL "
            "and the network."
        ) from None
    except OSError as exc:
        raise StartupError(
            f"PostgreSQL at {where} cannot be reached ({_why(exc)}): is it running? Check DATABASE_URL."
        ) from None
    except asyncpg.PostgresError as exc:
        raise StartupError(f"PostgreSQL at {where} refused the connection ({exc}): check DATABASE_URL.") from None
    except (ValueError, asyncpg.ClientConfigurationError):
        # asyncpg's message may quote the URL: say what is wrong without it.
        raise StartupError(
            f"DATABASE_URL {shown(url)} cannot be read as a PostgreSQL URL: check its host, port and options."
        ) from None
    return pool


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _where(url: str) -> str:
    """The server and database a URL names, for messages: never its user or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        socket_dir = re.search(r"[?&]host=([^&]*)", parts.query)
        host = unquote(socket_dir.group(1)) if socket_dir else "the local socket"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: asyncpg refuses it with its own words
        port = ""
    return f"{host}{port}/{_database_name(url)}"


def _database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "(the user's own)"
