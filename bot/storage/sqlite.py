"""The one SQLite connection of a process, used the cheap way: from the event loop, in microseconds.

A statement on a small database takes microseconds and, once this connection holds SQLite's write lock,
can wait for nothing: so it runs on the event loop itself, without a trip to a worker thread and back.
The one step that may wait (taking the write lock from another process, up to the busy timeout) runs in
a thread. `Storage.transaction` holds an asyncio lock around all of it, so the connection is used by one
coroutine at a time, from whichever thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any


class Connection:
    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, tuple(params))

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        return self.raw.execute(sql, tuple(params)).fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self.raw.execute(sql, tuple(params)).fetchall()
