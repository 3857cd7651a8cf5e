"""Budgets: reserve money for a job, then charge or release it; what members spent and have left.

A day is the server's calendar day in its own time zone (UTC unless set); the operator's global
budget runs on UTC days. The budget check and the reservation happen in one transaction, which
`Storage.transaction()` makes exclusive across every process sharing the database file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import BudgetExceededError, MemberBlockedError, ServerPausedError
from bot.models import GuildUsage, Reservation, SpendReport, Usage
from bot.money import Money
from bot.storage import Storage, Tx
from bot.storage.guilds import BudgetContext

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
UTC_ZONE = ZoneInfo("UTC")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BudgetDefaults:
    """The operator's settings: the price, and the budgets that apply where a server set none."""

    price_per_image: Money
    member_daily_limit: Money
    guild_daily_limit: Money | None = None
    global_daily_limit: Money | None = None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name)
        return ZoneInfo("UTC")


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def next_midnight(moment: datetime, tz: ZoneInfo) -> datetime:
    """When the calendar day of `moment` in `tz` ends, as an aware UTC datetime."""
    tomorrow = local_day(moment, tz) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=tz).astimezone(UTC)


class Ledger:
    def __init__(self, storage: Storage, defaults: BudgetDefaults, clock: Clock = utc_now) -> None:
        self._storage = storage
        self._defaults = defaults
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    @property
    def price_per_image(self) -> Money:
        return self._defaults.price_per_image

    async def reserve(
        self, *, guild_id: int, member_id: int, role_ids: Sequence[int], images: int, tx: Tx | None = None
    ) -> Reservation:
        """Check every budget and set the cost aside, or raise the `BotError` that says why not.

        Checks, in order: the member is not blocked, the server is not paused, the member's budget,
        the server's, the operator's. Pass `tx` to make it part of a larger transaction.
        """
        if tx is None:
            async with self._storage.transaction() as own:
                return await self._reserve(own, guild_id, member_id, role_ids, images)
        return await self._reserve(tx, guild_id, member_id, role_ids, images)

    async def commit(self, reservation_id: int, images: int | None = None, *, tx: Tx | None = None) -> bool:
        """Charge a reservation: for all its images, or only `images` of them (the rest is released).

        True if this call charged it; False if it was settled before (commit is idempotent).
        """
        return await self._settle(reservation_id, images, tx)

    async def release(self, reservation_id: int, *, tx: Tx | None = None) -> bool:
        """Give a reservation back. True if this call released it; False if it was settled before."""
        return await self._settle(reservation_id, 0, tx)

    async def usage(self, guild_id: int, member_id: int, role_ids: Sequence[int] = ()) -> Usage:
        now = self._clock()
        async with self._storage.transaction() as tx:
            context = await tx.guilds.budget_context(guild_id, member_id, role_ids, now)
            tz = zone(context.settings.timezone)
            day = local_day(now, tz).isoformat()
            totals = await tx.spend.day_totals(guild_id, member_id, day, now.astimezone(UTC).date().isoformat())
        return Usage(
            day=day,
            spent=totals.member.charged,
            reserved=totals.member.reserved,
            limit=self._member_limit(context),
            images=totals.member.images,
            resets_at=next_midnight(now, tz),
        )

    async def guild_usage(self, guild_id: int) -> GuildUsage:
        """The server's day so far, and its daily budget (None when it has none)."""
        now = self._clock()
        async with self._storage.transaction() as tx:
            settings = await tx.guilds.settings(guild_id)
            tz = zone(settings.timezone)
            day = local_day(now, tz).isoformat()
            totals = await tx.spend.day_totals(guild_id, 0, day, now.astimezone(UTC).date().isoformat())
        return GuildUsage(
            day=day,
            spent=totals.guild.charged,
            reserved=totals.guild.reserved,
            images=totals.guild.images,
            limit=_micros(settings.guild_daily_limit, self._defaults.guild_daily_limit),
            resets_at=next_midnight(now, tz),
        )

    @property
    def defaults(self) -> BudgetDefaults:
        return self._defaults

    async def report(self, guild_id: int, days: int = 7) -> SpendReport:
        """Spend per member per day over the server's last `days` calendar days, today included."""
        now = self._clock()
        async with self._storage.transaction() as tx:
            settings = await tx.guilds.settings(guild_id)
            last = local_day(now, zone(settings.timezone))
            first = last - timedelta(days=max(1, days) - 1)
            rows = await tx.spend.member_rows(guild_id, first.isoformat(), last.isoformat())
        return SpendReport(guild_id, first.isoformat(), last.isoformat(), tuple(rows))

    async def forget_member(self, guild_id: int, member_id: int) -> int:
        """Delete a member's finished jobs and the prompts of their reports; money totals stay as they are."""
        async with self._storage.transaction() as tx:
            deleted = await tx.jobs.forget_member(guild_id, member_id)
        log.info("forgot %d jobs of member %s in server %s", deleted, member_id, guild_id)
        return deleted

    # --- inside the transaction -----------------------------------------------------------------

    async def _reserve(
        self, tx: Tx, guild_id: int, member_id: int, role_ids: Sequence[int], images: int
    ) -> Reservation:
        if images < 1:
            raise ValueError("a reservation is for at least one image")
        now = self._clock()
        context = await tx.guilds.budget_context(guild_id, member_id, role_ids, now)
        if context.blocked:
            block = await tx.moderation.active_block(guild_id, member_id, now)
            raise MemberBlockedError(block.until if block else None, block.reason if block else None)
        settings = context.settings
        if settings.paused:
            raise ServerPausedError()
        tz = zone(settings.timezone)
        day = local_day(now, tz).isoformat()
        utc_day = now.astimezone(UTC).date().isoformat()
        cost = self._defaults.price_per_image.micros * images
        totals = await tx.spend.day_totals(guild_id, member_id, day, utc_day)

        member_limit = self._member_limit(context)
        if totals.member.used + cost > member_limit:
            raise BudgetExceededError("member", totals.member.used, member_limit, cost, next_midnight(now, tz))

        guild_limit = _micros(settings.guild_daily_limit, self._defaults.guild_daily_limit)
        if guild_limit is not None and totals.guild.used + cost > guild_limit:
            raise BudgetExceededError("server", totals.guild.used, guild_limit, cost, next_midnight(now, tz))

        global_limit = _micros(None, self._defaults.global_daily_limit)
        if global_limit is not None and totals.overall.used + cost > global_limit:
            log.warning("the global daily budget refused %s for server %s", Money(cost), guild_id)
            raise BudgetExceededError("operator", totals.overall.used, global_limit, cost, next_midnight(now, UTC_ZONE))

        return await tx.spend.reserve(
            guild_id=guild_id,
            member_id=member_id,
            day=day,
            utc_day=utc_day,
            unit_price=self._defaults.price_per_image.micros,
            images=images,
            now=now,
        )

    def _member_limit(self, context: BudgetContext) -> int:
        """The member's own override, else their most generous role's, else the server's, else the operator's."""
        for limit in (context.member_override, context.role_override, context.settings.member_daily_limit):
            if limit is not None:
                return limit
        return self._defaults.member_daily_limit.micros

    async def _settle(self, reservation_id: int, images: int | None, tx: Tx | None) -> bool:
        if tx is None:
            async with self._storage.transaction() as own:
                return await self._settle(reservation_id, images, own)
        reservation = await tx.spend.get(reservation_id)
        if reservation is None:
            raise LookupError(f"no reservation {reservation_id}")
        charge = reservation.images if images is None else max(0, min(images, reservation.images))
        settled = await tx.spend.settle(reservation_id, charge_images=charge, now=self._clock())
        return settled is not None


def _micros(own: int | None, default: Money | None) -> int | None:
    if own is not None:
        return own
    return None if default is None else default.micros
