"""The ledger on both backends (real SQLite files, a real PostgreSQL server): budgets, races between
connections and processes, days in time zones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.errors import BotError, BudgetExceededError, MemberBlockedError, ServerPausedError
from bot.jobs import admit
from bot.ledger import BudgetDefaults, Ledger
from bot.models import (
    Delivery,
    Forgotten,
    JobOrigin,
    JobRequest,
    JobState,
    MemberPreferences,
    OverrideKind,
    ReportSource,
    ReportState,
    ReservationState,
)
from bot.moderation import Moderation
from bot.money import Money
from bot.storage import Storage, open_sqlite, open_storage

GUILD, ALICE, BOB = 100, 1, 2
PRICE = Money.parse("0.008")
DEFAULTS = BudgetDefaults(price_per_image=PRICE, member_daily_limit=Money.parse("0.08"))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    storage = await open_storage(database_url)
    yield storage
    await storage.close()


@pytest.fixture
def ledger(storage: Storage, clock: Clock) -> Ledger:
    return Ledger(storage, DEFAULTS, clock)


async def test_opening_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    storage = await open_sqlite(tmp_path / "a" / "b" / "x.db")
    await storage.close()
    assert (tmp_path / "a" / "b" / "x.db").exists()
    assert (tmp_path / "a" / "b" / "x.db").read_bytes()[18:20] == b"\x02\x02"  # WAL in the file header


async def test_the_last_eight_tenths_of_a_cent_goes_to_exactly_one_of_fifty_racers(
    database_url: str, clock: Clock
) -> None:
    storages = [await open_storage(database_url) for _ in range(5)]
    try:
        ledgers = [Ledger(storage, DEFAULTS, clock) for storage in storages]
        await ledgers[0].reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=9)  # $0.072 of $0.08

        async def racer(index: int) -> bool:
            try:
                await ledgers[index % 5].reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)
            except BudgetExceededError:
                return False
            return True

        results = await asyncio.gather(*(racer(i) for i in range(50)))
        assert results.count(True) == 1
        usage = await ledgers[3].usage(GUILD, ALICE)
        assert usage.reserved == Money.parse("0.08") and usage.left == Money(0)
    finally:
        for storage in storages:
            await storage.close()


async def test_a_server_budget_race_between_members_never_overspends(database_url: str, clock: Clock) -> None:
    storages = [await open_storage(database_url) for _ in range(4)]
    try:
        async with storages[0].transaction() as tx:
            await tx.guilds.update_settings(GUILD, clock(), guild_daily_limit=Money.parse("0.1"))
        ledgers = [Ledger(storage, DEFAULTS, clock) for storage in storages]

        async def racer(member: int) -> int:
            won = 0
            for _ in range(5):
                try:
                    await ledgers[member % 4].reserve(guild_id=GUILD, member_id=member, role_ids=[], images=1)
                    won += 1
                except BudgetExceededError as refusal:
                    assert refusal.scope in ("server", "member")
            return won

        won = await asyncio.gather(*(racer(member) for member in range(1, 11)))
        assert sum(won) == 12  # $0.1 / $0.008 = 12.5 images
    finally:
        for storage in storages:
            await storage.close()


async def test_the_member_budget_refuses_with_what_was_used_and_when_it_resets(ledger: Ledger) -> None:
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=4)
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=4)
    with pytest.raises(BudgetExceededError) as caught:
        await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=4)
    refusal = caught.value
    assert (refusal.scope, refusal.used, refusal.limit, refusal.left) == (
        "member",
        Money(64_000),
        Money(80_000),
        Money(16_000),
    )
    assert refusal.resets_at == datetime(2026, 11, 27, tzinfo=UTC)
    assert str(refusal) == (
        "This would cost $0.032 and you have $0.016 left of your $0.08 today ($0.064 used); it resets <t:1795737600:R>."
    )
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=2)  # what is left still fits


async def test_the_server_budget_refuses_after_its_members_spend_it(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), guild_daily_limit=Money(100_000), timezone="Europe/Berlin")
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=10)
    with pytest.raises(BudgetExceededError) as caught:
        await ledger.reserve(guild_id=GUILD, member_id=BOB, role_ids=[], images=3)
    assert caught.value.scope == "server"
    assert (caught.value.used, caught.value.limit) == (Money(80_000), Money(100_000))
    assert caught.value.resets_at == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # midnight in Berlin
    assert "This server has used $0.08 of its $0.10" in str(caught.value)


async def test_the_operator_budget_spans_servers_and_resets_at_utc_midnight(storage: Storage, clock: Clock) -> None:
    ledger = Ledger(storage, BudgetDefaults(PRICE, Money.parse("1"), global_daily_limit=Money.parse("0.05")), clock)
    await ledger.reserve(guild_id=1, member_id=ALICE, role_ids=[], images=3)
    await ledger.reserve(guild_id=2, member_id=BOB, role_ids=[], images=3)
    with pytest.raises(BudgetExceededError) as caught:
        await ledger.reserve(guild_id=3, member_id=BOB, role_ids=[], images=1)
    assert caught.value.scope == "operator"
    assert caught.value.resets_at == datetime(2026, 11, 27, tzinfo=UTC)
    assert "across all servers" in str(caught.value)


async def test_the_operator_default_server_budget_applies_where_a_server_set_none(
    storage: Storage, clock: Clock
) -> None:
    ledger = Ledger(storage, BudgetDefaults(PRICE, Money.parse("1"), guild_daily_limit=Money.parse("0.016")), clock)
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=2)
    with pytest.raises(BudgetExceededError, match="This server"):
        await ledger.reserve(guild_id=GUILD, member_id=BOB, role_ids=[], images=1)


async def test_blocked_comes_before_paused_which_comes_before_budgets(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    moderation = Moderation(storage, clock, auto_block_after=3)

    async def reserve(member: int) -> None:  # as /imagine asks: whether the member may generate, then the money
        request = JobRequest(GUILD, 5, member, "a fox", "square", "square_1_1")
        await admit(
            storage, ledger, moderation, request, Delivery(), queue_limit=5, now=clock(), origin=JobOrigin.DISCORD
        )

    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), paused=True, member_daily_limit=Money(0))
        await tx.moderation.add_block(
            GUILD, ALICE, until=clock() + timedelta(hours=1), reason="spam", moderator_id=9, now=clock()
        )
    with pytest.raises(MemberBlockedError):
        await reserve(ALICE)
    with pytest.raises(ServerPausedError):
        await reserve(BOB)
    clock.now += timedelta(hours=2)  # the block has expired
    with pytest.raises(ServerPausedError):
        await reserve(ALICE)
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), paused=False)
    with pytest.raises(BudgetExceededError, match="not enabled for you"):
        await reserve(ALICE)


async def test_overrides_resolve_member_then_highest_role_then_server_then_operator(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    artists, patrons, plain = 11, 12, 13

    async def limit(member: int, roles: list[int]) -> int:
        return (await ledger.usage(GUILD, member, roles)).limit.micros

    assert await limit(ALICE, [artists]) == 80_000  # the operator default
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), member_daily_limit=Money(40_000))
    assert await limit(ALICE, [artists]) == 40_000  # the server default
    async with storage.transaction() as tx:
        await tx.guilds.set_override(GUILD, OverrideKind.ROLE, artists, Money(200_000))
        await tx.guilds.set_override(GUILD, OverrideKind.ROLE, patrons, Money(500_000))
    assert await limit(ALICE, [plain, artists]) == 200_000
    assert await limit(ALICE, [artists, patrons]) == 500_000  # the most generous role wins
    assert await limit(BOB, [plain]) == 40_000
    async with storage.transaction() as tx:
        await tx.guilds.set_override(GUILD, OverrideKind.MEMBER, ALICE, Money(8_000))
    assert await limit(ALICE, [artists, patrons]) == 8_000  # the member's own override beats every role
    with pytest.raises(BudgetExceededError):
        await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[patrons], images=2)
    async with storage.transaction() as tx:
        assert await tx.guilds.clear_override(GUILD, OverrideKind.MEMBER, ALICE)
    assert await limit(ALICE, [artists, patrons]) == 500_000


async def test_the_day_rolls_over_at_midnight_in_auckland(ledger: Ledger, storage: Storage, clock: Clock) -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), timezone="Pacific/Auckland")
    clock.now = datetime(2026, 11, 26, 23, 59, tzinfo=auckland).astimezone(UTC)  # 10:59 UTC, NZDT (+13)
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=10)
    with pytest.raises(BudgetExceededError) as caught:
        await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)
    assert caught.value.resets_at == datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    clock.now = caught.value.resets_at
    usage = await ledger.usage(GUILD, ALICE)
    assert (usage.day, usage.reserved, usage.left) == ("2026-11-27", Money(0), Money(80_000))
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)


async def test_a_reservation_after_the_time_zone_changed_counts_on_the_new_zones_day(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    """The ledger reckons the day in the zone it saw last; a zone changed since (by any process) still wins."""
    clock.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 01:00 on the 27th in Auckland
    days = [(await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)).day]
    for timezone in ("Pacific/Auckland", "UTC"):
        async with storage.transaction() as tx:
            await tx.guilds.update_settings(GUILD, clock(), timezone=timezone)
        days += [(await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)).day for _ in range(2)]
    assert days == ["2026-11-26", "2026-11-27", "2026-11-27", "2026-11-26", "2026-11-26"]
    assert (await ledger.usage(GUILD, ALICE)).reserved == PRICE * 3


async def test_the_day_that_daylight_saving_ends_is_twenty_five_hours_long(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), timezone="Pacific/Auckland")
    # NZDT (+13) ends at 03:00 on Sunday 5 April 2026, which becomes 02:00 NZST (+12).
    clock.now = datetime(2026, 4, 4, 11, 0, tzinfo=UTC)  # 00:00 on the 5th in Auckland
    first = await ledger.usage(GUILD, ALICE)
    assert first.day == "2026-04-05"
    assert first.resets_at - clock.now == timedelta(hours=25)
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=10)
    clock.now = datetime(2026, 4, 5, 11, 59, tzinfo=UTC)  # 23:59 NZST, still the 5th
    with pytest.raises(BudgetExceededError):
        await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)
    clock.now = datetime(2026, 4, 5, 12, 0, tzinfo=UTC)
    assert (await ledger.usage(GUILD, ALICE)).day == "2026-04-06"
    await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)


async def test_the_day_daylight_saving_starts_is_twenty_three_hours_long(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, clock(), timezone="Pacific/Auckland")
    clock.now = datetime(2026, 9, 26, 12, 0, tzinfo=UTC)  # 00:00 NZST on Sunday 27 September
    usage = await ledger.usage(GUILD, ALICE)
    assert usage.day == "2026-09-27"
    assert usage.resets_at - clock.now == timedelta(hours=23)


async def test_commit_and_release_are_idempotent(ledger: Ledger) -> None:
    first = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=2)
    second = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=3)
    assert await ledger.commit(first.id)
    assert not await ledger.commit(first.id)
    assert not await ledger.release(first.id)  # a charge is not given back by a late release
    assert await ledger.release(second.id)
    assert not await ledger.release(second.id)
    assert not await ledger.commit(second.id)
    usage = await ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved, usage.images, usage.left) == (Money(16_000), Money(0), 2, Money(64_000))


async def test_commit_of_fewer_images_charges_only_those(ledger: Ledger) -> None:
    reservation = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=4)
    assert await ledger.commit(reservation.id, images=3)
    usage = await ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved, usage.images) == (Money(24_000), Money(0), 3)


async def test_a_reservation_survives_the_database_closing_before_its_commit(database_url: str, clock: Clock) -> None:
    storage = await open_storage(database_url)
    reservation = await Ledger(storage, DEFAULTS, clock).reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=5)
    await storage.close()

    storage = await open_storage(database_url)
    ledger = Ledger(storage, DEFAULTS, clock)
    usage = await ledger.usage(GUILD, ALICE)
    assert (usage.reserved, usage.left) == (Money(40_000), Money(40_000))
    with pytest.raises(BudgetExceededError):
        await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=6)
    assert await ledger.commit(reservation.id)
    async with storage.transaction() as tx:
        stored = await tx.spend.get(reservation.id)
        assert stored is not None and stored.state is ReservationState.CHARGED
        assert await tx.spend.total_charged() == Money(40_000)
    await storage.close()


async def test_the_report_lists_each_member_per_day_oldest_first(ledger: Ledger, clock: Clock) -> None:
    for days_ago, member, images in [(3, ALICE, 2), (3, BOB, 1), (1, ALICE, 4), (0, BOB, 3), (9, ALICE, 5)]:
        clock.now = datetime(2026, 11, 26, 15, tzinfo=UTC) - timedelta(days=days_ago)
        reservation = await ledger.reserve(guild_id=GUILD, member_id=member, role_ids=[], images=images)
        await ledger.commit(reservation.id)
    clock.now = datetime(2026, 11, 26, 15, tzinfo=UTC)
    reservation = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)
    await ledger.release(reservation.id)  # released: not spent, not listed
    report = await ledger.report(GUILD, days=7)
    assert (report.first_day, report.last_day) == ("2026-11-20", "2026-11-26")
    assert [(r.day, r.member_id, r.images, r.spent) for r in report.rows] == [
        ("2026-11-23", ALICE, 2, Money(16_000)),
        ("2026-11-23", BOB, 1, Money(8_000)),
        ("2026-11-25", ALICE, 4, Money(32_000)),
        ("2026-11-26", BOB, 3, Money(24_000)),
    ]
    assert (report.total_spent, report.total_images) == (Money(80_000), 10)
    assert report.by_member() == [(ALICE, Money(48_000), 6), (BOB, Money(32_000), 4)]


async def test_forgetting_a_member_erases_prompts_and_name_and_keeps_the_money_right(
    ledger: Ledger, storage: Storage, clock: Clock
) -> None:
    reservation = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=2)
    async with storage.transaction() as tx:
        job = await tx.jobs.insert(
            JobRequest(
                GUILD,
                5,
                ALICE,
                "a secret prompt, in watercolour",
                "square",
                "square_1_1",
                count=2,
                style="Watercolour",
                member_prompt="a secret prompt",
            ),
            reservation=reservation,
            delivery=Delivery(),
            now=clock(),
        )
        report: dict[str, Any] = dict(
            guild_id=GUILD, channel_id=5, member_id=ALICE, job_id=job.id, reason="safety", reporter_id=None
        )
        decided = await tx.moderation.add_report(
            **report, prompt="a secret prompt", source=ReportSource.SAFETY, now=clock()
        )
        await tx.moderation.decide_report(
            decided.id, state=ReportState.DISMISSED, moderator_id=9, decision="dismiss", now=clock()
        )
        still_open = await tx.moderation.add_report(
            **report, prompt="another secret", source=ReportSource.MEMBER, now=clock()
        )
        await tx.guilds.remember_name(GUILD, ALICE, "Alice", clock())
        await tx.preferences.put(GUILD, ALICE, MemberPreferences(size="landscape", count=2), clock())
        await tx.moderation.add_block(GUILD, ALICE, until=None, reason="spam", moderator_id=9, now=clock())
    with pytest.raises(BotError, match="images on their way"):
        await ledger.forget_member(GUILD, ALICE)
    async with storage.transaction() as tx:
        await tx.jobs.update(job.id, clock(), state=JobState.DELIVERED)
    await ledger.commit(reservation.id)
    before = (await ledger.usage(GUILD, ALICE), await ledger.report(GUILD))
    clock.now += timedelta(seconds=1)

    forgotten = await ledger.forget_member(GUILD, ALICE)

    assert forgotten == Forgotten(jobs=1, reports=1, names=1, preferences=1, open_reports=1, spend_rows=1, blocks=1)
    async with storage.transaction() as tx:
        kept = await tx.jobs.get(job.id)
        assert kept is not None and kept.request.forgotten and kept.cost == Money(16_000)
        assert kept.request.member_prompt is None and kept.request.style == "Watercolour"  # no words of theirs left
        assert await tx.preferences.get(GUILD, ALICE) == MemberPreferences()
        assert (await tx.moderation.report(decided.id)).prompt is None  # type: ignore[union-attr]
        assert (await tx.moderation.report(still_open.id)).prompt == "another secret"  # type: ignore[union-attr]
        assert await tx.guilds.member_names(GUILD, [ALICE]) == {}
        assert await tx.moderation.active_block(GUILD, ALICE, clock()) is not None
    usage, spend = await ledger.usage(GUILD, ALICE), await ledger.report(GUILD)
    assert (usage, spend.rows, spend.total_spent) == (before[0], before[1].rows, Money(16_000))

    # The open report loses its prompt once a moderator decides; a report made after /forget keeps its own.
    clock.now += timedelta(seconds=1)
    async with storage.transaction() as tx:
        later = await tx.moderation.add_report(**report, prompt="a new prompt", source=ReportSource.SAFETY, now=clock())
        erased = await tx.moderation.decide_report(
            still_open.id, state=ReportState.DISMISSED, moderator_id=9, decision="dismiss", now=clock()
        )
        assert erased is not None and erased.prompt is None
        kept_report = await tx.moderation.decide_report(
            later.id, state=ReportState.DISMISSED, moderator_id=9, decision="dismiss", now=clock()
        )
        assert kept_report is not None and kept_report.prompt == "a new prompt"


RACE_SCRIPT = """
import asyncio, sys
from datetime import datetime, UTC
from bot.errors import BudgetExceededError
from bot.ledger import BudgetDefaults, Ledger
from bot.money import Money
from bot.storage import open_storage

async def main() -> None:
    url, scope, callers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    storage = await open_storage(url)
    defaults = BudgetDefaults(Money(8_000), Money(80_000), guild_daily_limit=Money(800_000),
                              global_daily_limit=Money(8_000_000))
    ledger = Ledger(storage, defaults, lambda: datetime(2026, 11, 26, 15, tzinfo=UTC))
    base = {"member": 0, "server": 1_000, "global": 2_000}[scope]

    async def caller(index: int) -> bool:
        # The member scope: one member asks again and again; the server: its members each ask once;
        # the operator's budget: members of servers of their own each ask once.
        guild, member = {
            "member": (100, 1),
            "server": (200, base + index),
            "global": (base + index, 1),
        }[scope]
        try:
            await ledger.reserve(guild_id=guild, member_id=member, role_ids=[], images=1)
        except BudgetExceededError as refusal:
            assert refusal.scope == {"member": "member", "server": "server", "global": "operator"}[scope], refusal
            return False
        return True

    won = await asyncio.gather(*(caller(i + 100 * int(sys.argv[4])) for i in range(callers)))
    await storage.close()
    print(sum(won))

asyncio.run(main())
"""
PROCESSES, CALLERS = 3, 50
CLOCK = datetime(2026, 11, 26, 15, tzinfo=UTC)
RACE_DEFAULTS = BudgetDefaults(
    Money(8_000), Money(80_000), guild_daily_limit=Money(800_000), global_daily_limit=Money(8_000_000)
)


async def race(database_url: str, scope: str) -> int:
    import sys

    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACE_SCRIPT,
            database_url,
            scope,
            str(CALLERS),
            str(index),
            stdout=asyncio.subprocess.PIPE,
        )
        for index in range(PROCESSES)
    ]
    outputs = [await process.communicate() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    return sum(int(out.decode()) for out, _ in outputs)


async def test_processes_racing_for_the_last_image_of_each_budget_win_it_exactly_once(database_url: str) -> None:
    """3 processes × 50 callers for the last $0.008 of a member, of a server, and of the operator's day."""
    async with open_storage(database_url) as storage:
        ledger = Ledger(storage, RACE_DEFAULTS, lambda: CLOCK)
        await ledger.reserve(guild_id=100, member_id=1, role_ids=[], images=9)  # $0.072 of the member's $0.08
        for member in range(99):  # $0.792 of the server's $0.80
            await ledger.reserve(guild_id=200, member_id=10_000 + member, role_ids=[], images=1)
        # The operator's $8: $0.864 above, $0.016 for the two races before its own, and $7.112 from servers
        # of their own.
        for guild in range(889):
            await ledger.reserve(guild_id=5_000 + guild, member_id=1, role_ids=[], images=1)

    assert await race(database_url, "member") == 1
    assert await race(database_url, "server") == 1
    assert await race(database_url, "global") == 1

    async with open_storage(database_url) as storage, storage.transaction() as tx:
        totals = await tx.spend.day_totals(200, 1, "2026-11-26", "2026-11-26")
        alice = await tx.spend.day_totals(100, 1, "2026-11-26", "2026-11-26")
    assert alice.member.reserved == Money(80_000)
    assert totals.guild.reserved == Money(800_000)
    assert totals.overall.reserved == Money(8_000_000)
