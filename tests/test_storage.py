"""Migrations, transactions and the connection's settings: on both backends where the contract is shared, on
SQLite files where the test is about SQLite itself (its write lock, its file)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from bot.ledger import BudgetDefaults, Ledger
from bot.models import Delivery, JobOrigin, JobRequest, JobState, ReportSource, Reservation, ReservationState
from bot.money import Money
from bot.storage import open_sqlite, open_storage
from bot.storage.migrations import MIGRATIONS
from tests.databases import execute_raw

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [*conn.iterdump(), f"user_version={conn.execute('PRAGMA user_version').fetchone()[0]}"]


async def test_a_database_made_by_an_older_version_upgrades_with_its_data(database_url: str) -> None:
    old = await open_storage(database_url, migrations=MIGRATIONS[:3])  # before jobs had an origin, or leases
    assert await old.schema_version() == 3
    async with old.transaction() as tx:
        await tx.guilds.update_settings(7, NOW, member_daily_limit=Money(50_000), timezone="Asia/Tokyo")
        reservation = await tx.spend.reserve(
            guild_id=7, member_id=1, day="2026-11-27", utc_day="2026-11-26", unit_price=Money(8_000), images=2, now=NOW
        )
    await old.close()
    for guild, channel in ((7, 8), (0, 0)):  # jobs as the previous version wrote them: a bot's, and a terminal's
        await execute_raw(
            database_url,
            "INSERT INTO jobs (guild_id, channel_id, member_id, prompt, size, image_size, count, output_format, "
            "state, reservation_id, cost, created_at, updated_at) "
            "VALUES (?, ?, 1, 'a fox', 'square', 'square_1_1', 2, 'png', 'reserved', ?, 16000, ?, ?)",
            (guild, channel, reservation.id, NOW.isoformat(), NOW.isoformat()),
        )

    new = await open_storage(database_url)
    assert await new.schema_version() == len(MIGRATIONS)
    async with new.transaction() as tx:
        settings = await tx.guilds.settings(7)
        assert (settings.member_daily_limit, settings.timezone) == (Money(50_000), "Asia/Tokyo")
        assert (await tx.spend.day_totals(7, 1, "2026-11-27", "2026-11-26")).member.reserved == Money(16_000)
        bots, terminals = await tx.jobs.unfinished()
        assert (bots.state, bots.origin, terminals.origin) == (JobState.RESERVED, JobOrigin.DISCORD, JobOrigin.TERMINAL)
        assert [job.id for job in await tx.jobs.claim(JobOrigin.DISCORD, [], 10)] == [bots.id]  # nobody held it
        job = bots
        report = await tx.moderation.add_report(
            guild_id=7,
            channel_id=8,
            member_id=1,
            job_id=job.id,
            prompt="a fox",
            reason="x",
            source=ReportSource.SAFETY,
            reporter_id=None,
            now=NOW,
        )
        assert report.job_id == job.id
    await new.close()


async def test_opening_an_up_to_date_database_changes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "current.db"
    storage = await open_sqlite(path)
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(7, NOW, paused=True)
    await storage.close()
    before = dump(path)
    caplog.clear()
    caplog.set_level("INFO")
    storage = await open_sqlite(path)
    await storage.close()
    assert dump(path) == before
    assert "applied migration" not in caplog.text


async def test_the_connection_enforces_foreign_keys(database_url: str) -> None:
    storage = await open_storage(database_url)
    with pytest.raises((sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError)):
        async with storage.transaction() as tx:
            await tx.jobs.insert(
                JobRequest(7, 8, 1, "a fox", "square", "square_1_1"),
                reservation=Reservation(999, 7, 1, "2026-11-26", Money(8_000), 1, ReservationState.RESERVED),
                delivery=Delivery(),
                now=NOW,
            )
    async with storage.transaction() as tx:
        assert await tx.jobs.unfinished() == []  # the failed transaction left nothing behind
    await storage.close()


async def test_a_transaction_waits_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    storage = await open_sqlite(path)
    loop = asyncio.get_running_loop()
    began = asyncio.Event()

    def trace(sql: str) -> None:
        if sql == "BEGIN IMMEDIATE":
            loop.call_soon_threadsafe(began.set)

    storage.raw.set_trace_callback(trace)  # BEGIN runs in a worker thread: the callback runs there
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing

    async def write() -> None:
        async with storage.transaction() as tx:
            await tx.guilds.update_settings(7, NOW, paused=True)

    task = asyncio.create_task(write())
    await asyncio.wait_for(began.wait(), 10)  # our BEGIN is running: it can only be waiting for the lock
    await asyncio.sleep(0.3)
    assert not task.done()
    other.execute("COMMIT")
    await asyncio.wait_for(task, 10)  # it went ahead once the lock was free, instead of failing at once
    other.close()
    async with storage.transaction() as tx:
        assert (await tx.guilds.settings(7)).paused
    await storage.close()


async def test_a_transaction_that_raises_is_rolled_back(database_url: str) -> None:
    storage = await open_storage(database_url)
    with pytest.raises(RuntimeError):
        async with storage.transaction() as tx:
            await tx.guilds.update_settings(7, NOW, paused=True)
            raise RuntimeError("changed my mind")
    async with storage.transaction() as tx:
        assert not (await tx.guilds.settings(7)).paused
    await storage.close()


async def test_interaction_tokens_are_kept_out_of_reprs(database_url: str) -> None:
    storage = await open_storage(database_url)
    async with storage.transaction() as tx:
        reservation = await tx.spend.reserve(
            guild_id=7, member_id=1, day="2026-11-26", utc_day="2026-11-26", unit_price=Money(8_000), images=1, now=NOW
        )
        job = await tx.jobs.insert(
            JobRequest(7, 8, 1, "a fox", "square", "square_1_1"),
            reservation=reservation,
            delivery=Delivery(application_id=5, interaction_token="tok-secret"),
            now=NOW,
        )
    assert job.delivery.interaction_token == "tok-secret"
    assert "tok-secret" not in repr(job)
    await storage.close()


# --- cancellation ---------------------------------------------------------------------------------


async def test_a_reservation_waits_only_for_the_write_lock_so_a_cancellation_can_land_nowhere_else(
    tmp_path: Path,
) -> None:
    """Its statements run on the event loop without suspending: the only await a cancellation can reach is
    the wait for SQLite's write lock while another process holds it (tested below). Stepped by hand, an
    uncontended reservation never suspends at all, and a contended one only once."""
    path = tmp_path / "steps.db"
    storage = await open_sqlite(path)
    ledger = Ledger(storage, BudgetDefaults(Money(8_000), Money(80_000)), lambda: NOW)

    async def suspensions(member: int) -> int:
        coroutine = ledger.reserve(guild_id=7, member_id=member, role_ids=[], images=1)
        count = 0
        try:
            waiting_on = coroutine.send(None)
            while True:
                count += 1
                await asyncio.wait([waiting_on])  # what the reservation waits on
                waiting_on = coroutine.send(None)
        except StopIteration:
            return count

    assert await suspensions(1) == 0
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.2, other.execute, "ROLLBACK")
    assert await suspensions(2) == 1  # the wait for the lock, in a thread
    other.close()
    assert (await ledger.usage(7, 2)).reserved == Money(8_000)
    await storage.close()


async def test_a_reservation_cancelled_while_waiting_for_the_write_lock_leaves_the_connection_usable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cancel.db"
    storage = await open_sqlite(path)
    ledger = Ledger(storage, BudgetDefaults(Money(8_000), Money(80_000)), lambda: NOW)
    loop = asyncio.get_running_loop()
    reached = asyncio.Event()

    def trace(sql: str) -> None:  # runs in the worker thread that takes the lock
        if sql == "BEGIN IMMEDIATE":
            loop.call_soon_threadsafe(reached.set)

    other = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another connection holds the write lock: BEGIN waits for it
    storage.raw.set_trace_callback(trace)
    task = asyncio.create_task(ledger.reserve(guild_id=7, member_id=1, role_ids=[], images=1))
    await asyncio.wait_for(reached.wait(), 10)
    task.cancel()
    await asyncio.sleep(0.05)  # the cancellation reaches the task while its BEGIN still waits
    assert not task.done()  # it waits for its BEGIN to end, whatever happens
    other.execute("ROLLBACK")  # the blocked BEGIN now succeeds, after its caller has given up
    with pytest.raises(asyncio.CancelledError):
        await task
    storage.raw.set_trace_callback(None)
    assert not storage.raw.in_transaction
    await next_request_and_a_commit_work(ledger, cancelled_member=1)
    other.close()
    await storage.close()


async def test_a_transaction_cancelled_at_an_await_in_its_body_rolls_back_and_lets_others_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "body.db"
    storage = await open_sqlite(path)
    ledger = Ledger(storage, BudgetDefaults(Money(8_000), Money(80_000)), lambda: NOW)
    inside = asyncio.Event()

    async def reserve_then_wait() -> None:
        async with storage.transaction() as tx:
            await ledger.reserve(guild_id=7, member_id=1, role_ids=[], images=1, tx=tx)
            inside.set()
            await asyncio.sleep(30)  # an await of the caller's own, inside the transaction

    task = asyncio.create_task(reserve_then_wait())
    await asyncio.wait_for(inside.wait(), 10)
    other = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
    writer = asyncio.create_task(
        asyncio.to_thread(other.execute, "INSERT INTO app_state (key, value) VALUES ('other', 'x')")
    )
    await asyncio.sleep(0.05)
    assert not writer.done()  # we hold the write lock: the other connection waits
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(writer, 10)  # the cancelled work let go of the lock
    assert not storage.raw.in_transaction
    await next_request_and_a_commit_work(ledger, cancelled_member=1)
    other.close()
    await storage.close()


async def test_a_transaction_cancelled_in_its_body_rolls_back_and_another_process_writes_next(
    database_url: str,
) -> None:
    storage, other = await open_storage(database_url), await open_storage(database_url)
    ledger = Ledger(storage, BudgetDefaults(Money(8_000), Money(80_000)), lambda: NOW)
    inside = asyncio.Event()

    async def reserve_then_wait() -> None:
        async with storage.transaction() as tx:
            await ledger.reserve(guild_id=7, member_id=1, role_ids=[], images=1, tx=tx)
            inside.set()
            await asyncio.sleep(30)  # an await of the caller's own, inside the transaction

    async def write_elsewhere() -> None:
        async with other.transaction() as tx:
            await tx.set_state("other", "x")

    task = asyncio.create_task(reserve_then_wait())
    await asyncio.wait_for(inside.wait(), 10)
    writer = asyncio.create_task(write_elsewhere())
    await asyncio.sleep(0.1)
    assert not writer.done()  # the first holds the write lock: the other process waits
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(writer, 10)  # the cancelled work let go of the lock
    await next_request_and_a_commit_work(ledger, cancelled_member=1)
    await other.close()
    await storage.close()


async def next_request_and_a_commit_work(ledger: Ledger, *, cancelled_member: int) -> None:
    """The next request and a commit both work on the same connection; the cancelled one left nothing."""
    reservation = await ledger.reserve(guild_id=7, member_id=2, role_ids=[], images=1)
    assert await ledger.commit(reservation.id)
    assert (await ledger.usage(7, cancelled_member)).reserved == Money(0)
    assert (await ledger.usage(7, 2)).spent == Money(8_000)


async def test_processes_opening_a_new_database_at_the_same_moment_all_come_up(tmp_path: Path) -> None:
    """Seen with two bots started together on an empty file: one stopped with "database is locked"."""
    for attempt in range(20):
        path = tmp_path / f"new-{attempt}.db"
        opened = await asyncio.gather(*(open_sqlite(path) for _ in range(3)))  # each connects in a thread
        assert [await storage.schema_version() for storage in opened] == [len(MIGRATIONS)] * 3
        for storage in opened:
            await storage.close()
