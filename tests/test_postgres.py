"""What only the PostgreSQL backend meets: a server to reach, a password, migrations racing across processes,
a server that goes away while the bot runs. (The contract every backend keeps is in test_ledger.py,
test_leases.py and test_storage.py, run on both.)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.errors import BudgetExceededError, MemberBlockedError, StartupError
from bot.jobs import admit
from bot.ledger import BudgetDefaults, Ledger
from bot.models import Delivery, JobOrigin, JobRequest, JobState
from bot.moderation import Moderation
from bot.money import Money
from bot.simulator import BASE_PATH, Simulator, SimulatorSettings
from bot.storage import Storage, open_storage
from bot.storage.migrations import MIGRATIONS
from tests.conftest import TEST_KEY, Serve
from tests.databases import PostgresServer, postgres_database, postgres_server_url, with_database
from tests.discord_standin import DiscordStandin
from tests.harness import DISCORD_TOKEN, GUILD, Harness
from tests.test_first_hour import assert_one_line, quiet_env
from tests.test_operations import base_env, free_port, run_bot

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PASSWORD = "hunter2-horse"  # the password in every URL here: never in anything the bot says


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


# --- start-up: one line, never the password ------------------------------------------------------------


def test_a_server_that_cannot_be_reached_is_one_line_within_ten_seconds(tmp_path: Path) -> None:
    postgres_server_url()
    for url in (
        f"postgresql://imagine:{PASSWORD}@127.0.0.1:{free_port()}/imagine",  # nothing listens there
        f"postgresql://imagine:{PASSWORD}@/imagine?host={tmp_path}/no-server",  # no socket there
    ):
        started = time.monotonic()
        result = run_bot(env=quiet_env(tmp_path, DATABASE_URL=url), cwd=tmp_path, timeout=30)
        took = time.monotonic() - started
        line = assert_one_line(result, "PostgreSQL at", "cannot be reached", "DATABASE_URL")
        assert PASSWORD not in result.stderr + result.stdout, line
        assert took < 10, f"{took:.1f} s"


def test_a_missing_database_is_named_with_how_to_make_it(tmp_path: Path) -> None:
    url = with_database(postgres_server_url(), "no_such_imagine_db")
    url = url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL=url), cwd=tmp_path, timeout=30)
    assert_one_line(result, "has no database 'no_such_imagine_db'", "createdb no_such_imagine_db")
    assert PASSWORD not in result.stderr + result.stdout


async def test_a_refused_password_is_one_line_that_never_repeats_it(tmp_path: Path) -> None:
    server = postgres_server_url()
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(
            "DO $$ BEGIN CREATE ROLE imagine_password LOGIN PASSWORD 'the-right-one'; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    finally:
        await admin.close()
    url = server.replace("postgresql://postgres@", f"postgresql://imagine_password:{PASSWORD}@")
    result = await asyncio.to_thread(run_bot, env=quiet_env(tmp_path, DATABASE_URL=url), cwd=tmp_path, timeout=30)
    assert_one_line(result, "refused the password", "DATABASE_URL")
    assert PASSWORD not in result.stderr + result.stdout


async def test_a_database_holding_another_programs_tables_is_refused_untouched(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE invoices (id BIGINT PRIMARY KEY)")
        with pytest.raises(StartupError, match="another program's tables"):
            await open_storage(postgres_url)
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [row["tablename"] for row in tables] == ["invoices"]
    finally:
        await conn.close()


async def test_a_database_of_a_newer_version_is_refused(postgres_url: str) -> None:
    await (await open_storage(postgres_url)).close()
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("UPDATE imagine_schema SET version = 99")
    finally:
        await conn.close()
    with pytest.raises(StartupError, match="newer imagine-bot"):
        await open_storage(postgres_url)


async def test_what_the_storage_shows_masks_the_password(postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    url = postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    async with open_storage(url) as storage:  # the test server trusts its socket: any password does
        shown = [repr(storage), await storage.describe()]
    assert "applied migration" in caplog.text
    assert all(PASSWORD not in text for text in [*shown, caplog.text])
    described = r"PostgreSQL \d+\.\d+ at postgresql://postgres:…@/test_\w+\?host=\S+, schema version \d+"
    assert re.fullmatch(described, shown[1])


async def test_check_reports_the_backend_its_version_and_the_migration_level(
    tmp_path: Path, serve: Serve, postgres_url: str
) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY))
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    await standin.start()
    env = base_env(tmp_path, await serve(simulator.app) + BASE_PATH) | {
        "DISCORD_API_BASE_URL": standin.api_base,
        "DATABASE_URL": postgres_url,
    }
    try:
        result = await asyncio.to_thread(run_bot, "check", env=env, cwd=tmp_path)
    finally:
        await standin.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"database\s+ok\s+PostgreSQL \d+\.\d+ at .*, schema version {len(MIGRATIONS)}\n", result.stdout)


# --- migrations, serialised across processes -----------------------------------------------------------

OPEN_SCRIPT = """
import asyncio, sys
from bot.storage import Storage, open_storage

async def main() -> None:
    async with open_storage(sys.argv[1]) as storage:
        print(await storage.schema_version())

asyncio.run(main())
"""


async def test_processes_opening_an_empty_database_at_the_same_moment_all_come_up() -> None:
    for _ in range(3):
        async with postgres_database() as url:
            processes = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    OPEN_SCRIPT,
                    url,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                for _ in range(3)
            ]
            outputs = [await process.communicate() for process in processes]
            assert [process.returncode for process in processes] == [0, 0, 0], [err for _, err in outputs]
            assert [int(out) for out, _ in outputs] == [len(MIGRATIONS)] * 3


# --- reads ---------------------------------------------------------------------------------------------


async def test_a_read_does_not_wait_for_the_write_lock_and_cannot_write(postgres_url: str) -> None:
    """Seen in the two-process benchmark: every read (is the lease still held, the member's day) queued for
    the deployment's write lock behind the other process's writes, and results waited seconds for it."""
    async with open_storage(postgres_url) as storage, open_storage(postgres_url) as other:
        async with storage.transaction() as tx:
            await tx.set_state("seen", "committed")
        lock = holding_the_write_lock(other, "seen", "not yet committed")
        async with lock, asyncio.timeout(2), storage.reading() as tx:
            assert await tx.get_state("seen") == "committed"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            async with storage.reading() as tx:
                await tx.set_state("seen", "written while reading")
        async with storage.reading() as tx:
            assert await tx.get_state("seen") == "not yet committed"


async def test_a_member_refused_for_a_block_does_not_wait_for_the_write_lock(postgres_url: str) -> None:
    """In the two-process benchmark every /imagine read its channel rules, block, settings and blocked terms
    while holding the deployment's write lock, so 200 at once queued for each other's reads: what may refuse
    a member is read without it."""
    async with open_storage(postgres_url) as storage, open_storage(postgres_url) as other:
        ledger = Ledger(storage, BudgetDefaults(Money(8_000), Money(80_000)), lambda: NOW)
        moderation = Moderation(storage, lambda: NOW, auto_block_after=3)
        async with storage.transaction() as tx:
            await tx.moderation.add_block(1, 7, until=NOW + timedelta(hours=1), reason="spam", moderator_id=9, now=NOW)
        async with holding_the_write_lock(other, "busy", "yes"), asyncio.timeout(2):
            with pytest.raises(MemberBlockedError):
                request = JobRequest(1, 5, 7, "a fox", "square", "square_1_1")
                await admit(
                    storage, ledger, moderation, request, Delivery(), queue_limit=5, now=NOW, origin=JobOrigin.DISCORD
                )


async def test_an_image_is_posted_while_another_process_holds_the_write_lock(
    postgres_url: str, serve: Serve, standin: DiscordStandin
) -> None:
    """In the two-process benchmark an image that Pixazo had finished waited for the write lock, behind the
    other process's /imagine bursts, before its job could be marked as being delivered: a held job's moves
    are single conditional statements and do not queue for it."""
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=1.5, webhooks=False))
    harness = Harness(postgres_url, simulator, await serve(simulator.app) + BASE_PATH, standin)
    await harness.start()
    try:
        interaction = await harness.imagine("a fox in the snow")
        job = await harness.job_of(interaction)
        async with asyncio.timeout(10):
            while job.state not in (JobState.QUEUED, JobState.RUNNING):  # at Pixazo, and seen there
                await asyncio.sleep(0.05)
                job = await harness.job_of(interaction)
        async with open_storage(postgres_url) as other, holding_the_write_lock(other, "busy", "yes"):

            def posted() -> bool:
                message = standin.original(interaction)
                return message is not None and bool(message.files)

            await harness.standin.wait_for(posted, 3.5)  # before the server ends the idle holder, at 5 s
        assert (await harness.final(job.id)).state is JobState.DELIVERED
    finally:
        await harness.stop()


async def test_a_reservation_waits_on_the_server_for_the_write_lock_and_counts_what_its_holder_reserved(
    postgres_url: str,
) -> None:
    """A reservation is one trip: the server takes the write lock, then reads the day's totals afresh, so a
    reservation another process committed while this one waited counts against the budget."""
    defaults = BudgetDefaults(Money(8_000), Money(8_000))  # one image a day for each member
    async with open_storage(postgres_url) as storage, open_storage(postgres_url) as other:
        ledger, rival = Ledger(storage, defaults, lambda: NOW), Ledger(other, defaults, lambda: NOW)
        await ledger.reserve(guild_id=1, member_id=6, role_ids=[], images=1)  # its routine is made by now
        reserved, release = asyncio.Event(), asyncio.Event()

        async def reserve_and_hold_the_lock() -> None:
            async with other.transaction() as tx:
                await rival.reserve(guild_id=1, member_id=7, role_ids=[], images=1, tx=tx)
                reserved.set()
                await release.wait()

        holder = asyncio.create_task(reserve_and_hold_the_lock())
        await reserved.wait()
        asking = asyncio.create_task(ledger.reserve(guild_id=1, member_id=7, role_ids=[], images=1))
        async with asyncio.timeout(5):
            while not await waiting_for_the_write_lock(postgres_url):
                await asyncio.sleep(0.02)
        release.set()
        await holder
        with pytest.raises(BudgetExceededError) as refused:
            await asking
        assert refused.value.scope == "member"
        async with storage.reading() as tx:
            totals = await tx.spend.day_totals(1, 7, NOW.date().isoformat(), NOW.date().isoformat())
        assert totals.member.reserved == Money(8_000)


async def waiting_for_the_write_lock(url: str) -> bool:
    """Whether some session waits for an advisory lock (the deployment's write lock) on the server."""
    admin = await asyncpg.connect(url)
    try:
        return bool(await admin.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def holding_the_write_lock(storage: Storage, key: str, value: str) -> AsyncIterator[None]:
    """While the block runs, `storage` holds the deployment's write lock in a transaction that has written
    `key` = `value` and not committed it; it commits when the block ends."""
    writing, release = asyncio.Event(), asyncio.Event()

    async def hold_the_lock() -> None:
        async with storage.transaction() as tx:
            await tx.set_state(key, value)
            writing.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_lock())
    await writing.wait()
    try:
        yield
    finally:
        release.set()
        await holder


# --- the database going away while the bot runs ---------------------------------------------------------


async def test_sessions_ended_by_the_server_are_replaced_and_nothing_is_lost(postgres_url: str) -> None:
    async with open_storage(postgres_url) as storage:
        async with storage.transaction() as tx:
            await tx.set_state("before", "kept")
        admin = await asyncpg.connect(postgres_url)
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                storage.worker_name,
            )
        finally:
            await admin.close()
        assert ended >= 1
        async with storage.transaction() as tx:
            assert await tx.get_state("before") == "kept"
            await tx.set_state("after", "written")
        async with storage.transaction() as tx:
            assert await tx.get_state("after") == "written"


async def test_work_waits_while_the_server_is_down_and_goes_on_when_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = PostgresServer()
    server.start()
    try:
        async with open_storage(server.url) as storage:
            async with storage.transaction() as tx:
                reservation = await tx.spend.reserve(
                    guild_id=7,
                    member_id=1,
                    day="2026-12-06",
                    utc_day="2026-12-06",
                    unit_price=Money(8_000),
                    images=1,
                    now=NOW,
                )
            await asyncio.to_thread(server.stop)

            async def settle() -> None:
                async with storage.transaction() as tx:
                    await tx.spend.settle(reservation.id, charge_images=1, now=NOW)

            waiting = asyncio.create_task(settle())
            await asyncio.sleep(1.5)
            assert not waiting.done() and not reachable(storage)
            assert "cannot be reached" in caplog.text and "work waits for it" in caplog.text

            await asyncio.to_thread(server.start)
            await asyncio.wait_for(waiting, 30)
            assert reachable(storage) and "reachable again" in caplog.text
            async with storage.transaction() as tx:
                assert await tx.spend.total_charged() == Money(8_000)  # charged once, nothing lost
    finally:
        await asyncio.to_thread(server.remove)


def reachable(storage: Storage) -> bool:
    return storage.reachable
