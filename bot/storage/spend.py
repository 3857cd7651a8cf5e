"""The ledger's tables: reservations, and the running daily totals that triggers keep beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.models import Reservation, ReservationState, SpendRow
from bot.money import Money
from bot.storage.connection import Connection
from bot.storage.convert import fetch_all, fetch_one, to_db

_RESERVATION_COLUMNS = "id, guild_id, member_id, day, unit_price, images, state"


@dataclass(frozen=True, slots=True)
class DayTotals:
    reserved: Money = field(default_factory=Money.zero)
    charged: Money = field(default_factory=Money.zero)
    images: int = 0

    @property
    def used(self) -> Money:
        return self.reserved + self.charged


@dataclass(frozen=True, slots=True)
class DayLimits:
    """The most each scope may have used by the day's end, reservations included (None: no limit)."""

    member: Money | None
    guild: Money | None
    overall: Money | None


@dataclass(frozen=True, slots=True)
class DayTotalsByScope:
    member: DayTotals
    guild: DayTotals
    overall: DayTotals


# The rows of daily_totals for one member's day, one server's day, and everyone's (UTC) day.
_MEMBER_DAY = "scope = 'member' AND guild_id = ? AND member_id = ? AND day = ?"
_GUILD_DAY = "scope = 'guild' AND guild_id = ? AND member_id = 0 AND day = ?"
_GLOBAL_DAY = "scope = 'global' AND guild_id = 0 AND member_id = 0 AND day = ?"


class SpendTable:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def day_totals(self, guild_id: int, member_id: int, day: str, utc_day: str) -> DayTotalsByScope:
        """The member's and the server's totals for `day`, and everyone's for `utc_day`, in one read."""
        rows = await fetch_all(
            self._conn,
            "SELECT scope, reserved, charged, images FROM daily_totals "
            f"WHERE ({_MEMBER_DAY}) OR ({_GUILD_DAY}) OR ({_GLOBAL_DAY})",
            (guild_id, member_id, day, guild_id, day, utc_day),
        )
        found = {row["scope"]: DayTotals(Money(row["reserved"]), Money(row["charged"]), row["images"]) for row in rows}
        return DayTotalsByScope(
            member=found.get("member", DayTotals()),
            guild=found.get("guild", DayTotals()),
            overall=found.get("global", DayTotals()),
        )

    async def reserve(
        self, *, guild_id: int, member_id: int, day: str, utc_day: str, unit_price: Money, images: int, now: datetime
    ) -> Reservation:
        """Set the cost aside, whatever the budgets say (the ledger's `reserve` checks them)."""
        unlimited = DayLimits(None, None, None)
        reservation = await self.reserve_within(
            unlimited,
            guild_id=guild_id,
            member_id=member_id,
            day=day,
            utc_day=utc_day,
            unit_price=unit_price,
            images=images,
            now=now,
        )
        assert reservation is not None
        return reservation

    async def reserve_within(
        self,
        limits: DayLimits,
        *,
        guild_id: int,
        member_id: int,
        day: str,
        utc_day: str,
        unit_price: Money,
        images: int,
        now: datetime,
    ) -> Reservation | None:
        """Set the cost aside if the day's totals leave room for it under every limit; None if one has not.
        The check and the insert are one statement: a budget check costs no trip of its own."""
        cost = (unit_price * images).micros
        scopes = (
            (limits.member, _MEMBER_DAY, (guild_id, member_id, day)),
            (limits.guild, _GUILD_DAY, (guild_id, day)),
            (limits.overall, _GLOBAL_DAY, (utc_day,)),
        )
        checks: list[str] = []
        params: list[object] = []
        for limit, where, keys in scopes:
            if limit is not None:
                checks.append(f"COALESCE((SELECT reserved + charged FROM daily_totals WHERE {where}), 0) + ? <= ?")
                params += [*keys, cost, limit.micros]
        row_values = (guild_id, member_id, day, utc_day, unit_price.micros, images, to_db(now))
        return await self._insert_if(row_values, "", checks, params)

    async def reserve_under(
        self,
        budgets: tuple[str, list[object]],
        overall: Money | None,
        *,
        timezone: str,
        guild_id: int,
        member_id: int,
        day: str,
        utc_day: str,
        unit_price: Money,
        images: int,
        now: datetime,
    ) -> Reservation | None:
        """`reserve_within`, with the member's and the server's limits read by the same statement (`budgets`,
        from `guilds.budget_limits`), and only while the server's time zone is still `timezone`, the one `day`
        was reckoned in. None when a budget refuses or the zone is another: read the budgets and ask again."""
        cost = (unit_price * images).micros
        limits_sql, limits_params = budgets
        checks = [
            "b.timezone = ?",
            f"COALESCE((SELECT reserved + charged FROM daily_totals WHERE {_MEMBER_DAY}), 0) + ? <= b.member_limit",
            "(b.guild_limit IS NULL OR "
            f"COALESCE((SELECT reserved + charged FROM daily_totals WHERE {_GUILD_DAY}), 0) + ? <= b.guild_limit)",
        ]
        params: list[object] = [timezone, guild_id, member_id, day, cost, guild_id, day, cost]
        if overall is not None:
            checks.append(f"COALESCE((SELECT reserved + charged FROM daily_totals WHERE {_GLOBAL_DAY}), 0) + ? <= ?")
            params += [utc_day, cost, overall.micros]
        row_values = (guild_id, member_id, day, utc_day, unit_price.micros, images, to_db(now), *limits_params)
        return await self._insert_if(row_values, f"FROM ({limits_sql}) AS b ", checks, params)

    async def _insert_if(
        self, row_values: Sequence[object], source: str, checks: Sequence[str], params: Sequence[object]
    ) -> Reservation | None:
        """Insert a reservation of `row_values` (then `source`'s parameters) if every check holds, in one statement."""
        where = f"WHERE {' AND '.join(checks)} " if checks else ""
        row = await fetch_one(
            self._conn,
            "INSERT INTO reservations (guild_id, member_id, day, utc_day, unit_price, images, state, created_at) "
            # Typed, as a SELECT's own columns are not typed by the INSERT's (PostgreSQL would read text).
            f"SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT), 'reserved', ? "
            f"{source}{where}RETURNING {_RESERVATION_COLUMNS}",
            (*row_values, *params),
        )
        return None if row is None else _reservation(row)

    async def settle(self, reservation_id: int, *, charge_images: int, now: datetime) -> Reservation | None:
        """Turn a reservation into a charge for `charge_images` images (0 releases it).

        Returns None when it was settled before: settling twice changes nothing.
        """
        state = ReservationState.CHARGED if charge_images > 0 else ReservationState.RELEASED
        row = await fetch_one(
            self._conn,
            "UPDATE reservations SET state = ?, charged_images = ?, settled_at = ? "
            f"WHERE id = ? AND state = 'reserved' AND ? <= images RETURNING {_RESERVATION_COLUMNS}",
            (state.value, charge_images, to_db(now), reservation_id, charge_images),
        )
        return None if row is None else _reservation(row)

    async def get(self, reservation_id: int) -> Reservation | None:
        row = await fetch_one(
            self._conn, f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE id = ?", (reservation_id,)
        )
        return None if row is None else _reservation(row)

    async def member_rows(self, guild_id: int, first_day: str, last_day: str) -> list[SpendRow]:
        rows = await fetch_all(
            self._conn,
            "SELECT day, member_id, images, charged FROM daily_totals "
            "WHERE scope = 'member' AND guild_id = ? AND day BETWEEN ? AND ? AND (charged > 0 OR images > 0) "
            "ORDER BY day, member_id",
            (guild_id, first_day, last_day),
        )
        return [SpendRow(r["day"], r["member_id"], r["images"], Money(r["charged"])) for r in rows]

    async def total_charged(self) -> Money:
        """Everything ever charged, summed from the reservations themselves (a check on the running totals)."""
        row = await fetch_one(
            self._conn,
            "SELECT CAST(COALESCE(SUM(unit_price * charged_images), 0) AS BIGINT) AS total "
            "FROM reservations WHERE state = 'charged'",
        )
        return Money(int(row["total"]) if row else 0)


def _reservation(row: Any) -> Reservation:
    return Reservation(
        id=row["id"],
        guild_id=row["guild_id"],
        member_id=row["member_id"],
        day=row["day"],
        unit_price=Money(row["unit_price"]),
        images=row["images"],
        state=ReservationState(row["state"]),
    )
