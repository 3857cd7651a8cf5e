"""Migrations and the connection's settings, on real SQLite files."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Delivery, JobRequest, JobState, ReportSource
from bot.storage import Storage
from bot.storage.migrations import MIGRATIONS

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [*conn.iterdump(), f"user_version={conn.execute('PRAGMA user_version').fetchone()[0]}"]


async def test_a_database_made_by_the_previous_migration_upgrades_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = await Storage.open(path, migrations=MIGRATIONS[:-1])
    assert await old.schema_version() == len(MIGRATIONS) - 1
    async with old.transaction() as tx:
        await tx.guilds.update_settings(7, NOW, member_daily_limit=50_000, timezone="Asia/Tokyo")
        reservation = await tx.spend.reserve(
            guild_id=7, member_id=1, day="2026-11-27", utc_day="2026-11-26", unit_price=8_000, images=2, now=NOW
        )
        job = await tx.jobs.insert(
            JobRequest(7, 8, 1, "a fox", "square", "square_1_1", count=2),
            reservation_id=reservation.id,
            cost=16_000,
            delivery=Delivery(),
            now=NOW,
        )
    await old.close()

    new = await Storage.open(path)
    assert await new.schema_version() == len(MIGRATIONS)
    async with new.transaction() as tx:
        settings = await tx.guilds.settings(7)
        assert (settings.member_daily_limit, settings.timezone) == (50_000, "Asia/Tokyo")
        assert (await tx.spend.day_totals(7, 1, "2026-11-27", "2026-11-26")).member.reserved == 16_000
        stored = await tx.jobs.get(job.id)
        assert stored is not None and stored.state is JobState.RESERVED
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
    storage = await Storage.open(path)
    async with storage.transaction() as tx:
        await tx.guilds.update_settings(7, NOW, paused=True)
    await storage.close()
    before = dump(path)
    caplog.clear()
    caplog.set_level("INFO")
    storage = await Storage.open(path)
    await storage.close()
    assert dump(path) == before
    assert "applied migration" not in caplog.text


async def test_the_connection_enforces_foreign_keys_and_waits_when_busy(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "x.db")
    with pytest.raises(sqlite3.IntegrityError):
        async with storage.transaction() as tx:
            await tx.jobs.insert(
                JobRequest(7, 8, 1, "a fox", "square", "square_1_1"),
                reservation_id=999,
                cost=8_000,
                delivery=Delivery(),
                now=NOW,
            )
    async with storage.transaction() as tx:
        assert await tx.jobs.unfinished() == []  # the failed transaction left nothing behind
    await storage.close()


async def test_a_transaction_that_raises_is_rolled_back(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "x.db")
    with pytest.raises(RuntimeError):
        async with storage.transaction() as tx:
            await tx.guilds.update_settings(7, NOW, paused=True)
            raise RuntimeError("changed my mind")
    async with storage.transaction() as tx:
        assert not (await tx.guilds.settings(7)).paused
    await storage.close()


async def test_interaction_tokens_are_kept_out_of_reprs(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "x.db")
    async with storage.transaction() as tx:
        reservation = await tx.spend.reserve(
            guild_id=7, member_id=1, day="2026-11-26", utc_day="2026-11-26", unit_price=8_000, images=1, now=NOW
        )
        job = await tx.jobs.insert(
            JobRequest(7, 8, 1, "a fox", "square", "square_1_1"),
            reservation_id=reservation.id,
            cost=8_000,
            delivery=Delivery(application_id=5, interaction_token="tok-secret"),
            now=NOW,
        )
    assert job.delivery.interaction_token == "tok-secret"
    assert "tok-secret" not in repr(job)
    await storage.close()
