"""Per-server settings, budget overrides, channel rules, blocked terms and members' names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.models import BudgetOverride, GuildSettings, OverrideKind
from bot.money import Money
from bot.storage.connection import Connection
from bot.storage.convert import fetch_all, fetch_one, to_db

_SETTINGS_COLUMNS = (
    "member_daily_limit",
    "guild_daily_limit",
    "timezone",
    "mod_channel_id",
    "paused",
    "safety_charged",
    "member_max_jobs",
)


@dataclass(frozen=True, slots=True)
class BudgetContext:
    settings: GuildSettings
    member_override: Money | None  # the member's own daily limit, if set
    role_override: Money | None  # the most generous of their roles' limits, if any is set


def _role_limit(guild_id: int, role_ids: Sequence[int]) -> tuple[str, list[object]]:
    """A subquery, and its parameters, of the most generous daily limit among the member's roles (NULL: none)."""
    roles = list(dict.fromkeys(role_ids))
    if not roles:
        return "NULL", []
    marks = ", ".join("?" for _ in roles)
    where = f"guild_id = ? AND kind = 'role' AND target_id IN ({marks})"
    return f"(SELECT MAX(daily_limit) FROM budget_overrides WHERE {where})", [guild_id, *roles]


def budget_limits(
    guild_id: int, member_id: int, role_ids: Sequence[int], member_default: Money, guild_default: Money | None
) -> tuple[str, list[object]]:
    """A one-row query, and its parameters, of the server's time zone (`timezone`) and the member's and the
    server's daily limits (`member_limit`, `guild_limit`, NULL for none), in the order `Ledger` gives them: the
    member's own override, else their most generous role's, else the server's, else the operator's default.
    For a statement that checks the budgets in the same step as it reads them."""
    role_limit, role_params = _role_limit(guild_id, role_ids)
    sql = (
        "SELECT COALESCE(s.timezone, 'UTC') AS timezone, COALESCE("
        "(SELECT daily_limit FROM budget_overrides WHERE guild_id = ? AND kind = 'member' AND target_id = ?), "
        f"{role_limit}, s.member_daily_limit, CAST(? AS BIGINT)) AS member_limit, "
        "COALESCE(s.guild_daily_limit, CAST(? AS BIGINT)) AS guild_limit "
        "FROM (SELECT CAST(? AS BIGINT) AS guild_id) AS g LEFT JOIN guild_settings AS s ON s.guild_id = g.guild_id"
    )
    params: list[object] = [guild_id, member_id, *role_params]
    params += [member_default.micros, None if guild_default is None else guild_default.micros, guild_id]
    return sql, params


class GuildsTable:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def settings(self, guild_id: int) -> GuildSettings:
        row = await fetch_one(
            self._conn, f"SELECT {', '.join(_SETTINGS_COLUMNS)} FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return _settings(guild_id, row)

    async def budget_context(self, guild_id: int, member_id: int, role_ids: Sequence[int]) -> BudgetContext:
        """Everything a budget check reads before the day's totals, in one trip to the database."""
        role_limit, role_params = _role_limit(guild_id, role_ids)
        settings_columns = ", ".join(f"s.{column}" for column in _SETTINGS_COLUMNS)
        row = await fetch_one(
            self._conn,
            f"SELECT {settings_columns}, "
            "(SELECT daily_limit FROM budget_overrides WHERE guild_id = ? AND kind = 'member' AND target_id = ?) "
            f"AS member_override, {role_limit} AS role_override "
            "FROM (SELECT CAST(? AS BIGINT) AS guild_id) AS g LEFT JOIN guild_settings AS s ON s.guild_id = g.guild_id",
            (guild_id, member_id, *role_params, guild_id),
        )
        assert row is not None
        known = row["timezone"] is not None  # timezone is NOT NULL in a stored row
        return BudgetContext(
            settings=_settings(guild_id, row if known else None),
            member_override=_money(row["member_override"]),
            role_override=_money(row["role_override"]),
        )

    async def update_settings(self, guild_id: int, now: datetime, **changes: Any) -> GuildSettings:
        """Set some settings (by their `GuildSettings` names), leaving the others as they were."""
        unknown = set(changes) - set(_SETTINGS_COLUMNS)
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        columns = list(changes)
        placeholders = ", ".join("?" for _ in columns)
        assignments = ", ".join(f"{column} = excluded.{column}" for column in [*columns, "updated_at"])
        values = [value.micros if isinstance(value, Money) else value for value in changes.values()]
        await self._conn.execute(
            f"INSERT INTO guild_settings (guild_id, {', '.join(columns)}, updated_at) "
            f"VALUES (?, {placeholders}, ?) ON CONFLICT (guild_id) DO UPDATE SET {assignments}",
            (guild_id, *values, to_db(now)),
        )
        return await self.settings(guild_id)

    async def set_override(self, guild_id: int, kind: OverrideKind, target_id: int, daily_limit: Money) -> None:
        await self._conn.execute(
            "INSERT INTO budget_overrides (guild_id, kind, target_id, daily_limit) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, kind, target_id) DO UPDATE SET daily_limit = excluded.daily_limit",
            (guild_id, kind.value, target_id, daily_limit.micros),
        )

    async def clear_override(self, guild_id: int, kind: OverrideKind, target_id: int) -> bool:
        cursor = await self._conn.execute(
            "DELETE FROM budget_overrides WHERE guild_id = ? AND kind = ? AND target_id = ?",
            (guild_id, kind.value, target_id),
        )
        return cursor.rowcount > 0

    async def overrides(self, guild_id: int) -> list[BudgetOverride]:
        rows = await fetch_all(
            self._conn,
            "SELECT kind, target_id, daily_limit FROM budget_overrides WHERE guild_id = ? ORDER BY kind, target_id",
            (guild_id,),
        )
        return [
            BudgetOverride(guild_id, OverrideKind(r["kind"]), r["target_id"], Money(r["daily_limit"])) for r in rows
        ]

    async def remember_name(self, guild_id: int, member_id: int, name: str, now: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO member_names (guild_id, member_id, name, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, member_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
            (guild_id, member_id, name[:100], to_db(now)),
        )

    async def member_names(self, guild_id: int, member_ids: Sequence[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        marks = ", ".join("?" for _ in member_ids)
        rows = await fetch_all(
            self._conn,
            f"SELECT member_id, name FROM member_names WHERE guild_id = ? AND member_id IN ({marks})",
            (guild_id, *member_ids),
        )
        return {row["member_id"]: row["name"] for row in rows}

    async def allowed_channels(self, guild_id: int) -> list[int]:
        rows = await fetch_all(
            self._conn, "SELECT channel_id FROM allowed_channels WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
        )
        return [row["channel_id"] for row in rows]

    async def allow_channel(self, guild_id: int, channel_id: int) -> bool:
        cursor = await self._conn.execute(
            "INSERT INTO allowed_channels (guild_id, channel_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (guild_id, channel_id),
        )
        return cursor.rowcount > 0

    async def disallow_channel(self, guild_id: int, channel_id: int) -> bool:
        cursor = await self._conn.execute(
            "DELETE FROM allowed_channels WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        )
        return cursor.rowcount > 0

    async def blocked_terms(self, guild_id: int) -> list[str]:
        rows = await fetch_all(
            self._conn, "SELECT term FROM blocked_terms WHERE guild_id = ? ORDER BY term", (guild_id,)
        )
        return [row["term"] for row in rows]

    async def add_blocked_term(self, guild_id: int, term: str) -> bool:
        cursor = await self._conn.execute(
            "INSERT INTO blocked_terms (guild_id, term) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (guild_id, term),
        )
        return cursor.rowcount > 0

    async def remove_blocked_term(self, guild_id: int, term: str) -> bool:
        cursor = await self._conn.execute("DELETE FROM blocked_terms WHERE guild_id = ? AND term = ?", (guild_id, term))
        return cursor.rowcount > 0


def _money(micros: int | None) -> Money | None:
    return None if micros is None else Money(micros)


def _settings(guild_id: int, row: Any | None) -> GuildSettings:
    if row is None:
        return GuildSettings(guild_id=guild_id)
    return GuildSettings(
        guild_id=guild_id,
        member_daily_limit=_money(row["member_daily_limit"]),
        guild_daily_limit=_money(row["guild_daily_limit"]),
        timezone=row["timezone"],
        mod_channel_id=row["mod_channel_id"],
        paused=bool(row["paused"]),
        safety_charged=bool(row["safety_charged"]),
        member_max_jobs=row["member_max_jobs"],
    )
