"""`python -m bot migrate-db --to URL`: a SQLite database moved to PostgreSQL with every row and every cent."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ledger import BudgetDefaults, Ledger
from bot.models import Delivery, JobRequest, JobState, OverrideKind, ReportSource
from bot.money import Money
from bot.storage import Storage, open_sqlite, open_storage
from tests.databases import postgres_database
from tests.test_first_hour import assert_one_line, quiet_env
from tests.test_operations import run_bot

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
GUILD, ALICE, BOB = 100, 1, 2
DEFAULTS = BudgetDefaults(price_per_image=Money(8_000), member_daily_limit=Money(80_000))
PASSWORD = "hunter2-horse"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


async def a_used_database(path: Path) -> None:
    """A ledger with money in every state, a job, settings, moderation and names: what a bot leaves behind."""
    async with open_sqlite(path) as storage:
        ledger = Ledger(storage, DEFAULTS, lambda: NOW)
        charged = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=3)
        await ledger.commit(charged.id, 2)  # two of three images delivered
        released = await ledger.reserve(guild_id=GUILD, member_id=BOB, role_ids=[], images=1)
        await ledger.release(released.id)
        open_one = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)
        async with storage.transaction() as tx:
            await tx.guilds.update_settings(GUILD, NOW, safety_charged=True, timezone="Asia/Tokyo")
            await tx.guilds.set_override(GUILD, OverrideKind.ROLE, 55, Money(200_000))
            await tx.guilds.allow_channel(GUILD, 5)
            await tx.guilds.add_blocked_term(GUILD, "forbidden")
            await tx.guilds.remember_name(GUILD, ALICE, "alice", NOW)
            await tx.moderation.add_block(GUILD, BOB, until=None, reason="spam", moderator_id=9, now=NOW)
            job = await tx.jobs.insert(
                JobRequest(GUILD, 5, ALICE, "a lighthouse", "square", "square_1_1"),
                reservation=open_one,
                delivery=Delivery(application_id=7, interaction_token="tok-1"),
                now=NOW,
            )
            await tx.jobs.update(job.id, NOW, state=JobState.QUEUED, queue_position=3, request_id="req-1")
            await tx.moderation.add_report(
                guild_id=GUILD,
                channel_id=5,
                member_id=ALICE,
                job_id=job.id,
                prompt="a lighthouse",
                reason="safety",
                source=ReportSource.SAFETY,
                reporter_id=None,
                now=NOW,
            )
            await tx.set_state("command_tree_hash", "abc")
            await tx.jobs.let_go()  # the bot stopped cleanly


async def everything(storage: Storage) -> dict[str, object]:
    ledger = Ledger(storage, DEFAULTS, lambda: NOW)
    async with storage.transaction() as tx:
        jobs = await tx.jobs.unfinished()
        seen: dict[str, object] = {
            "settings": await tx.guilds.settings(GUILD),
            "overrides": await tx.guilds.overrides(GUILD),
            "channels": await tx.guilds.allowed_channels(GUILD),
            "terms": await tx.guilds.blocked_terms(GUILD),
            "names": await tx.guilds.member_names(GUILD, [ALICE, BOB]),
            "blocks": await tx.moderation.blocks_of(GUILD, BOB),
            "reports": await tx.moderation.reports(GUILD),
            "jobs": jobs,
            "reservations": [await tx.spend.get(job.reservation_id or 0) for job in jobs],
            "charged": await tx.spend.total_charged(),
            "state": await tx.get_state("command_tree_hash"),
        }
    seen["alice"] = await ledger.usage(GUILD, ALICE)
    seen["bob"] = await ledger.usage(GUILD, BOB)
    seen["report"] = await ledger.report(GUILD)
    return seen


async def test_a_sqlite_database_moves_to_postgres_with_every_row_and_every_cent(
    tmp_path: Path, postgres_url: str
) -> None:
    path = tmp_path / "imagine.db"
    await a_used_database(path)
    async with open_sqlite(path) as storage:
        before = await everything(storage)

    env = quiet_env(tmp_path, DATABASE_URL=f"sqlite:///{path}")
    result = await asyncio.to_thread(run_bot, "migrate-db", "--to", postgres_url, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^reservations\s+3 rows$", result.stdout, re.MULTILINE), result.stdout
    assert "4 daily totals and $0.016 charged match" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr

    async with open_storage(postgres_url) as storage:
        assert await everything(storage) == before
        async with storage.transaction() as tx:
            (job,) = await tx.jobs.claim(before["jobs"][0].origin, [], 10)  # type: ignore[index]
            assert job.request_id == "req-1"  # a bot on PostgreSQL carries it on
        reservation = await Ledger(storage, DEFAULTS, lambda: NOW).reserve(
            guild_id=GUILD, member_id=BOB, role_ids=[], images=1
        )
        assert reservation.id == 4  # ids go on after the copied ones

    again = await asyncio.to_thread(run_bot, "migrate-db", "--to", postgres_url, env=env, cwd=tmp_path)
    assert_one_line(again, "already holds data", "empty database")
    assert PASSWORD not in again.stdout + again.stderr


async def test_a_database_in_use_is_not_copied(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "imagine.db"
    await a_used_database(path)
    env = quiet_env(tmp_path, DATABASE_URL=f"sqlite:///{path}")
    async with open_sqlite(path):  # a bot still running on it
        result = await asyncio.to_thread(run_bot, "migrate-db", "--to", postgres_url, env=env, cwd=tmp_path)
    assert_one_line(result, "in use by 1 running process", "stop the bot first")
    async with open_storage(postgres_url) as storage, storage.transaction() as tx:
        assert await tx.jobs.unfinished() == []  # nothing was written


def test_migrate_db_needs_a_postgres_target_and_a_sqlite_source(tmp_path: Path) -> None:
    env = quiet_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/imagine.db")
    result = run_bot("migrate-db", "--to", f"sqlite:///{tmp_path}/other.db", env=env, cwd=tmp_path)
    assert_one_line(result, "--to must name a PostgreSQL database")
    result = run_bot("migrate-db", "--to", "postgresql://x@/y", env=env, cwd=tmp_path)
    assert_one_line(result, "imagine.db does not exist")
    assert not (tmp_path / "imagine.db").exists()
    env = quiet_env(tmp_path, DATABASE_URL=f"postgresql://u:{PASSWORD}@/db")
    result = run_bot("migrate-db", "--to", "postgresql://x@/y", env=env, cwd=tmp_path)
    assert_one_line(result, "migrate-db copies a SQLite database")
    assert PASSWORD not in result.stderr


async def test_a_copy_whose_totals_do_not_match_writes_nothing(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "imagine.db"
    await a_used_database(path)
    with sqlite3.connect(path) as conn:  # a total that drifted from its reservations, by a micro-dollar
        conn.execute("UPDATE daily_totals SET charged = charged + 1 WHERE scope = 'global'")
    env = quiet_env(tmp_path, DATABASE_URL=f"sqlite:///{path}")
    result = await asyncio.to_thread(run_bot, "migrate-db", "--to", postgres_url, env=env, cwd=tmp_path)
    assert_one_line(result, "daily totals rebuilt in the target differ", "nothing was written")
    async with open_storage(postgres_url) as storage, storage.transaction() as tx:
        assert await tx.jobs.unfinished() == [] and await tx.spend.total_charged() == Money(0)
