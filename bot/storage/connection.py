"""What the tables need from a connection, whichever database is behind it.

The tables write one dialect: SQLite's, which is close to standard SQL (``?`` placeholders, `NOW_MS` for the
database's clock, `IN_JSON_LIST` for a list bound as one JSON parameter). The PostgreSQL connection translates
those three; everything else the tables write runs unchanged on both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

# The database's clock, in milliseconds since 1970: every process on the database reads the same one.
NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
# The text values of a JSON list bound as one parameter: `x IN (IN_JSON_LIST)`.
IN_JSON_LIST = "SELECT value FROM json_each(?)"


class Executed(Protocol):
    @property
    def rowcount(self) -> int: ...


class Connection(Protocol):
    @property
    def row_lock(self) -> str:
        """What a claiming SELECT ends with so that concurrent claimers skip each other's rows ('' if moot)."""
        ...

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> Executed: ...

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Any | None: ...

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]: ...
