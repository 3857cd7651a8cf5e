"""What every storage backend offers: transactions over the tables, leases under one worker name, and the
proof that another worker is gone. `bot.storage.sqlite` and `bot.storage.postgres` implement it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

from bot.storage.appeals import AppealsTable
from bot.storage.connection import NOW_MS, Connection
from bot.storage.convert import fetch_one
from bot.storage.guilds import GuildsTable
from bot.storage.interactions import InteractionsTable
from bot.storage.jobs import JobsTable
from bot.storage.lease import Lease
from bot.storage.moderation import ModerationTable
from bot.storage.spend import SpendTable
from bot.storage.styles import PreferencesTable, StylesTable

DEFAULT_LEASE_SECONDS = 15.0
# Given the workers holding leases, those proven gone (their OS lock is free, their database session ended).
ProveGone = Callable[[Connection, Sequence[str]], Awaitable[list[str]]]


class Tx:
    """One transaction's view of the tables."""

    def __init__(self, conn: Connection, lease: Lease, prove_gone: ProveGone) -> None:
        self.spend = SpendTable(conn)
        self.guilds = GuildsTable(conn)
        self.jobs = JobsTable(conn, lease)
        self.interactions = InteractionsTable(conn, lease)
        self.moderation = ModerationTable(conn)
        self.appeals = AppealsTable(conn)
        self.styles = StylesTable(conn)
        self.preferences = PreferencesTable(conn)
        self._conn = conn
        self._prove_gone = prove_gone

    async def proven_gone(self, workers: Sequence[str]) -> list[str]:
        """Those of `workers` that are certainly not running any more: their leases need not be waited out."""
        return await self._prove_gone(self._conn, workers) if workers else []

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


S = TypeVar("S", bound="Storage")


class Opening(Generic[S]):
    """A storage being opened: ``await`` it, or use it as an async context manager that closes it."""

    def __init__(self, connecting: Coroutine[Any, Any, S]) -> None:
        self._connecting = connecting
        self._storage: S | None = None

    def __await__(self) -> Generator[Any, None, S]:
        return self._connecting.__await__()

    async def __aenter__(self) -> S:
        self._storage = await self._connecting
        return self._storage

    async def __aexit__(self, *_: object) -> None:
        assert self._storage is not None
        await self._storage.close()


class Storage(ABC):
    """An open database. ``transaction()`` is the only way to its tables."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease
        self.reachable = True  # False while a database server cannot be reached (the health check reports it)

    @property
    def lease_seconds(self) -> float:
        return self._lease.seconds

    @property
    def worker_name(self) -> str:
        """The name this process's leases carry."""
        return self._lease.owner

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back if it raises. Transactions of all
        processes on the database are serialised, so what a block reads stays true until it commits."""

    def reading(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction that only reads what was committed. On a database server it does not wait for the
        deployment's write lock, so a read never queues behind other processes' writes; a write in it fails.
        For what a decision reads and then writes on, use `transaction()`."""
        return self.transaction()

    def autocommit(self) -> AbstractAsyncContextManager[Tx]:
        """Writes that each commit as they run, for a statement whose WHERE is its whole decision and which
        changes only its own rows: a held job's move (conditional on its lease and state), its message id, an
        interaction this process acknowledged. On a database server such a write does not queue for the
        deployment's write lock: its row locks order it with every other write to those rows, and a row that
        another transaction changed meanwhile is checked again, newest version, against the WHERE. Nothing
        that reads one row and writes another belongs here. On SQLite it is `transaction()`."""
        return self.transaction()

    def locked_statement(self) -> AbstractAsyncContextManager[Tx]:
        """A write transaction of one statement that returns rows and decides as it writes (an INSERT … SELECT
        whose WHERE checks the budgets). On a database server it is one trip: the server takes the write lock,
        runs the statement and commits, and no round trip happens while the lock is held. A second statement in
        the block raises. On SQLite it is `transaction()`."""
        return self.transaction()

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def describe(self) -> str:
        """One line for `python -m bot check`: the backend, its version, where, and the schema version."""
