"""Servers' styles (named prompt templates) and members' own defaults for /imagine (preferences)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.models import MemberPreferences, Style
from bot.storage.connection import Connection
from bot.storage.convert import fetch_all, fetch_one, to_db


class StylesTable:
    """A style is found by its key, the case-folded name, and shown by the name as the admin wrote it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, guild_id: int, key: str) -> Style | None:
        row = await fetch_one(
            self._conn, "SELECT name, template FROM styles WHERE guild_id = ? AND key = ?", (guild_id, key)
        )
        return None if row is None else _style(guild_id, row)

    async def all(self, guild_id: int) -> list[Style]:
        rows = await fetch_all(
            self._conn, "SELECT name, template FROM styles WHERE guild_id = ? ORDER BY key", (guild_id,)
        )
        return [_style(guild_id, row) for row in rows]

    async def count(self, guild_id: int) -> int:
        row = await fetch_one(self._conn, "SELECT COUNT(*) AS n FROM styles WHERE guild_id = ?", (guild_id,))
        assert row is not None
        return int(row["n"])

    async def put(self, guild_id: int, key: str, style: Style, now: datetime) -> None:
        """Add the style, or give the one with its key this name and template."""
        await self._conn.execute(
            "INSERT INTO styles (guild_id, key, name, template, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, key) DO UPDATE SET name = excluded.name, template = excluded.template",
            (guild_id, key, style.name, style.template, to_db(now)),
        )

    async def remove(self, guild_id: int, key: str) -> bool:
        cursor = await self._conn.execute("DELETE FROM styles WHERE guild_id = ? AND key = ?", (guild_id, key))
        return cursor.rowcount > 0


class PreferencesTable:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, guild_id: int, member_id: int) -> MemberPreferences:
        row = await fetch_one(
            self._conn,
            "SELECT size, count FROM preferences WHERE guild_id = ? AND member_id = ?",
            (guild_id, member_id),
        )
        return MemberPreferences() if row is None else MemberPreferences(size=row["size"], count=row["count"])

    async def put(self, guild_id: int, member_id: int, preferences: MemberPreferences, now: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO preferences (guild_id, member_id, size, count, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, member_id) DO UPDATE SET size = excluded.size, count = excluded.count, "
            "updated_at = excluded.updated_at",
            (guild_id, member_id, preferences.size, preferences.count, to_db(now)),
        )

    async def clear(self, guild_id: int, member_id: int) -> bool:
        cursor = await self._conn.execute(
            "DELETE FROM preferences WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
        )
        return cursor.rowcount > 0


def _style(guild_id: int, row: Any) -> Style:
    return Style(guild_id=guild_id, name=row["name"], template=row["template"])
