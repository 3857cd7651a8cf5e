"""PostgreSQL connections as the tables see them (`bot.storage.connection`): in a transaction, in autocommit,
or for the one statement of a `locked_statement()`. Statements are in the tables' dialect, translated here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from bot.aio import to_the_end
from bot.storage.pg_dialect import translate
from bot.storage.pg_routines import LockedStatements


@dataclass(frozen=True, slots=True)
class _Status:
    rowcount: int


class PostgresConnection:
    row_lock = "FOR UPDATE SKIP LOCKED"  # claimers skip the rows another is taking instead of waiting on them

    def __init__(self, raw: asyncpg.Connection) -> None:
        self._raw = raw

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> _Status:
        status: str = await self._raw.execute(translate(sql), *params)
        last = status.rsplit(" ", 1)[-1]
        return _Status(int(last) if last.isdigit() else 0)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        return await self._raw.fetchrow(translate(sql), *params)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._raw.executemany(translate(sql), rows)

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return list(await self._raw.fetch(translate(sql), *params))


class AutocommitConnection(PostgresConnection):
    """Each statement is its own transaction. A cancelled caller still waits for the answer, so the statement is
    never cut off in flight: it committed or it did not, and the rows say which."""

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> _Status:
        return await to_the_end(super().execute(sql, params))

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        return await to_the_end(super().fetch_one(sql, params))

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise TypeError("several rows in autocommit would commit some of them: use transaction()")

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await to_the_end(super().fetch_all(sql, params))


class LockedStatementConnection(PostgresConnection):
    """One statement, run by `LockedStatements` as a routine under the write lock."""

    def __init__(self, raw: asyncpg.Connection, statements: LockedStatements) -> None:
        super().__init__(raw)
        self._statements: LockedStatements | None = statements

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        if self._statements is None:
            raise RuntimeError("a locked statement is one statement: use transaction() for more")
        statements, self._statements = self._statements, None
        return await statements.run(self._raw, sql, params)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> _Status:
        raise TypeError("a locked statement returns rows (RETURNING): use transaction() for others")

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise TypeError("a locked statement is one statement: use transaction() for more")
