"""One statement under the deployment's write lock, in one trip: each such statement runs as a server-side
routine that takes the lock, then runs the statement, and commits, with no round trip while the lock is held.

A routine is made the first time a process runs its statement, named after a digest of the statement and its
parameters' types: two versions of the bot running side by side (a rolling upgrade) never replace each
other's. Its body is the statement itself, so the rules stay where the statement is written.

Why a routine: a statement that took the lock itself would read the rows as they were when it started, before
its wait for the lock ended. A routine's statements are each read afresh (it is VOLATILE), so the statement
after the lock sees every write committed before the lock came to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import asyncpg

from bot.aio import to_the_end
from bot.storage.pg_dialect import translate

_PREFIX = "imagine_locked_"


class LockedStatements:
    """The routines this process has made, by statement."""

    def __init__(self, lock: int) -> None:
        self._lock = lock
        self._calls: dict[str, str] = {}

    async def run(self, raw: asyncpg.Connection, sql: str, params: Iterable[Any]) -> list[Any]:
        """The rows `sql` (the tables' dialect) returns, run as one transaction under the write lock."""
        statement = translate(sql)
        call = self._calls.get(statement) or await self._make(raw, statement)
        # Never cut off in flight: it committed or it did not, and the caller learns which before it goes.
        return list(await to_the_end(raw.fetch(call, *params)))

    async def _make(self, raw: asyncpg.Connection, statement: str) -> str:
        prepared = await raw.prepare(statement)
        oids = [parameter.oid for parameter in prepared.get_parameters()]
        columns = [(attribute.name, attribute.type.oid) for attribute in prepared.get_attributes()]
        if not columns:
            raise TypeError("a locked statement returns rows (RETURNING): use transaction() for others")
        named = await raw.fetch(
            "SELECT format_type(oid, NULL) AS name FROM unnest(CAST($1 AS oid[])) WITH ORDINALITY AS t(oid, n) "
            "ORDER BY n",
            [*oids, *(oid for _, oid in columns)],
        )
        types = [row["name"] for row in named]
        arguments, results = types[: len(oids)], types[len(oids) :]
        returns = ", ".join(f'"{name}" {kind}' for (name, _), kind in zip(columns, results, strict=True))
        signature = f"({', '.join(arguments)}) RETURNS TABLE ({returns}) LANGUAGE plpgsql VOLATILE"
        # In a routine, a column and a result of the same name (id) are the column.
        body = (
            f"#variable_conflict use_column\n"
            f"BEGIN PERFORM pg_advisory_xact_lock({self._lock}); RETURN QUERY {statement}; END"
        )
        name = _PREFIX + hashlib.sha256(f"{signature}|{body}".encode()).hexdigest()[:24]
        async with raw.transaction():  # made once per process; two made at once would clash: under the lock
            await raw.execute(f"SELECT pg_advisory_xact_lock({self._lock})")
            await raw.execute(f"CREATE OR REPLACE FUNCTION {name}{signature} AS $routine$ {body} $routine$")
        call = f"SELECT * FROM {name}({', '.join(f'${n}' for n in range(1, len(oids) + 1))})"
        self._calls[statement] = call
        return call
