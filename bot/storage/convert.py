"""Turning Python values into column values and back: times as ISO 8601 text in UTC."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.storage.connection import Connection


def to_db(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware one")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def from_db_required(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def fetch_one(conn: Connection, sql: str, params: Iterable[Any] = ()) -> Any | None:
    return await conn.fetch_one(sql, params)


async def fetch_all(conn: Connection, sql: str, params: Iterable[Any] = ()) -> list[Any]:
    return await conn.fetch_all(sql, params)
