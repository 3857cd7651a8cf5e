"""Budgets: reserve money for a job, then charge or release it; what members spent and have left.

A day is the server's calendar day in its own time zone (UTC unless set); the operator's global
budget runs on UTC days. The budget check and the reservation happen in one transaction, which
`Storage.transaction()` makes exclusive across every process sharing the database file. Whether a
member may generate at all (blocks, a paused server) is `admit`'s business, not the ledger's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock
from bot.errors import BotError, BudgetExceededError
from bot.models import Forgotten, GuildUsage, Job, Reservation, ReservationState, SpendReport, Usage
from bot.money import Money
from bot.storage import Storage, Tx
from bot.storage.guilds import BudgetContext, budget_limits

log = logging.getLogger(__name__)
UTC_ZONE = ZoneInfo("UTC")


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
    def __init__(self, storage: Storage, defaults: BudgetDefaults, clock: Clock) -> None:
        self._storage = storage
        self._defaults = defaults
        self._clock = clock
        self._timezones: dict[int, str] = {}  # each server's time zone as last read: a guess, checked when used

    @property
    def price_per_image(self) -> Money:
        return self._defaults.price_per_image

    @property
    def defaults(self) -> BudgetDefaults:
        return self._defaults

    async def reserve(
        self, *, guild_id: int, member_id: int, role_ids: Sequence[int], images: int, tx: Tx | None = None
    ) -> Reservation:
        """Check the budgets and set the cost aside, or raise the `BudgetExceededError` that says why not.

        Checks, in order: the member's budget, the server's, the operator's. Pass `tx` to make it part of a
        larger transaction.
        """
        if images < 1:
            raise ValueError("a reservation is for at least one image")
        if tx is None:
            # Most reservations are granted by the one statement that checks the budgets: on a database server
            # it runs there under the write lock, in one trip. A refusal is looked into in a transaction.
            seen_zone = self._timezones.get(guild_id, "UTC")
            async with self._storage.locked_statement() as quick:
                reservation = await self._reserve_on_zones_day(
                    quick, seen_zone, guild_id, member_id, role_ids, images, self._clock()
                )
            if reservation is not None:
                return reservation
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

    async def is_charged(self, reservation_id: int) -> bool:
        async with self._storage.reading() as tx:
            reservation = await tx.spend.get(reservation_id)
        return reservation is not None and reservation.state is ReservationState.CHARGED

    async def usage(self, guild_id: int, member_id: int, role_ids: Sequence[int] = ()) -> Usage:
        now = self._clock()
        async with self._storage.reading() as tx:
            context = await tx.guilds.budget_context(guild_id, member_id, role_ids)
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

    async def usage_once_charged(self, job: Job, images: int) -> Usage:
        """The member's day as it will read once `images` of this job are charged and the rest released."""
        usage = await self.usage(job.guild_id, job.member_id, job.request.role_ids)
        return replace(
            usage,
            spent=usage.spent + job.unit_price * images,
            reserved=usage.reserved.remaining_after(job.cost),
            images=usage.images + images,
        )

    async def guild_usage(self, guild_id: int) -> GuildUsage:
        """The server's day so far, and its daily budget (None when it has none)."""
        now = self._clock()
        async with self._storage.reading() as tx:
            settings = await tx.guilds.settings(guild_id)
            tz = zone(settings.timezone)
            day = local_day(now, tz).isoformat()
            totals = await tx.spend.day_totals(guild_id, 0, day, now.astimezone(UTC).date().isoformat())
        return GuildUsage(
            day=day,
            spent=totals.guild.charged,
            reserved=totals.guild.reserved,
            images=totals.guild.images,
            limit=_first(settings.guild_daily_limit, self._defaults.guild_daily_limit),
            resets_at=next_midnight(now, tz),
        )

    async def report(self, guild_id: int, days: int = 7) -> SpendReport:
        """Spend per member per day over the server's last `days` calendar days, today included, with names."""
        now = self._clock()
        async with self._storage.reading() as tx:
            settings = await tx.guilds.settings(guild_id)
            last = local_day(now, zone(settings.timezone))
            first = last - timedelta(days=max(1, days) - 1)
            rows = await tx.spend.member_rows(guild_id, first.isoformat(), last.isoformat())
            names = await tx.guilds.member_names(guild_id, sorted({row.member_id for row in rows}))
        return SpendReport(guild_id, first.isoformat(), last.isoformat(), tuple(rows), names)

    async def forget_member(self, guild_id: int, member_id: int) -> Forgotten:
        """Erase a member's prompts and name in a server, or raise why not now; every money total stays as it is.

        Refused while a job of theirs is unfinished: it still needs its prompt, and would keep it afterwards.
        """
        async with self._storage.transaction() as tx:
            if await tx.jobs.unfinished_for_member(guild_id, member_id):
                raise BotError("You have images on their way; use /forget again once they have arrived.")
            forgotten = await tx.jobs.forget_member(guild_id, member_id, self._clock())
        log.info("forgot the prompts of %d jobs of member %s in server %s", forgotten.jobs, member_id, guild_id)
        return forgotten

    # --- inside the transaction -----------------------------------------------------------------

    async def _reserve(
        self, tx: Tx, guild_id: int, member_id: int, role_ids: Sequence[int], images: int
    ) -> Reservation:
        now = self._clock()
        cost = self.price_per_image * images
        utc_day = now.astimezone(UTC).date().isoformat()
        # First, in one statement that reads the budgets itself, on the day of the server's time zone as last
        # seen here (most servers keep UTC); the statement refuses if the zone has changed since.
        seen_zone = self._timezones.get(guild_id, "UTC")
        reservation = await self._reserve_on_zones_day(tx, seen_zone, guild_id, member_id, role_ids, images, now)
        if reservation is not None:
            return reservation

        context = await tx.guilds.budget_context(guild_id, member_id, role_ids)
        self._timezones[guild_id] = context.settings.timezone
        if context.settings.timezone != seen_zone:  # not refused: asked on the wrong day; ask on the right one
            zone_now = context.settings.timezone
            reservation = await self._reserve_on_zones_day(tx, zone_now, guild_id, member_id, role_ids, images, now)
            if reservation is not None:
                return reservation
        tz = zone(context.settings.timezone)
        day = local_day(now, tz).isoformat()
        member_limit = self._member_limit(context)
        guild_limit = _first(context.settings.guild_daily_limit, self._defaults.guild_daily_limit)
        global_limit = self._defaults.global_daily_limit

        # Refused: say by which budget, in the order members meet them.
        totals = await tx.spend.day_totals(guild_id, member_id, day, utc_day)
        if totals.member.used + cost > member_limit:
            raise BudgetExceededError("member", totals.member.used, member_limit, cost, next_midnight(now, tz))
        if guild_limit is not None and totals.guild.used + cost > guild_limit:
            raise BudgetExceededError("server", totals.guild.used, guild_limit, cost, next_midnight(now, tz))
        assert global_limit is not None, "a reservation refused with no budget over its limit"
        log.warning("the global daily budget refused %s for server %s", cost, guild_id)
        raise BudgetExceededError("operator", totals.overall.used, global_limit, cost, next_midnight(now, UTC_ZONE))

    async def _reserve_on_zones_day(
        self, tx: Tx, zone_name: str, guild_id: int, member_id: int, role_ids: Sequence[int], images: int, now: datetime
    ) -> Reservation | None:
        """Reserve on the day of `zone_name` if the budgets, read by the same statement, leave room and the
        server's time zone is still that one; None if not."""
        return await tx.spend.reserve_under(
            budget_limits(
                guild_id, member_id, role_ids, self._defaults.member_daily_limit, self._defaults.guild_daily_limit
            ),
            self._defaults.global_daily_limit,
            timezone=zone_name,
            guild_id=guild_id,
            member_id=member_id,
            day=local_day(now, zone(zone_name)).isoformat(),
            utc_day=now.astimezone(UTC).date().isoformat(),
            unit_price=self.price_per_image,
            images=images,
            now=now,
        )

    def _member_limit(self, context: BudgetContext) -> Money:
        """The member's own override, else their most generous role's, else the server's, else the operator's."""
        for limit in (context.member_override, context.role_override, context.settings.member_daily_limit):
            if limit is not None:
                return limit
        return self._defaults.member_daily_limit

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


def _first(own: Money | None, default: Money | None) -> Money | None:
    return own if own is not None else default
