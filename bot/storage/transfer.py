"""Moving a SQLite database to PostgreSQL: ``python -m bot migrate-db --to URL``.

Every table is copied in one transaction of the target, ids kept. The running daily totals are not copied:
the target's own triggers rebuild them as each reservation is written and then settled, and they must come
out equal to the source's, row for row, as must every table's row count and the money charged. If anything
differs, nothing is written. The source must not be in use (no bot holds it open), and the target must be
empty, so a copy is never merged into a live ledger.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import StartupError
from bot.money import Money
from bot.storage import open_sqlite, open_storage
from bot.storage.pg_connection import PostgresConnection
from bot.storage.postgres import PostgresStorage
from bot.storage.sqlite import SqliteStorage
from bot.storage.urls import is_postgres_url

# In the order their references need. daily_totals is rebuilt by triggers, then checked.
TABLES = (
    "guild_settings",
    "budget_overrides",
    "reservations",
    "jobs",
    "allowed_channels",
    "blocked_terms",
    "blocks",
    "safety_reports",
    "app_state",
    "member_names",
    "pending_interactions",
    "login_turns",
    "appeals",
    "forgotten_members",
    "styles",
    "preferences",
)
_WITH_IDS = ("reservations", "jobs", "blocks", "safety_reports")  # their next id must follow the copied ones
_TOTALS = "SELECT scope, guild_id, member_id, day, reserved, charged, images FROM daily_totals"
_CHARGED = "SELECT CAST(COALESCE(SUM(unit_price * charged_images), 0) AS BIGINT) FROM reservations"
_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Copied:
    rows: dict[str, int]  # per table
    totals: int  # daily total rows, rebuilt and equal to the source's
    charged: Money


class CopyRefused(StartupError):
    """The copy cannot start, or did not check out: nothing was written."""


async def migrate_db(source: Path, target_url: str) -> Copied:
    """Copy the SQLite database at `source` into the empty PostgreSQL database at `target_url`."""
    if not is_postgres_url(target_url):
        raise CopyRefused("--to must name a PostgreSQL database, like postgresql://user:password@host:5432/imagine")
    if not await asyncio.to_thread(source.is_file):
        raise CopyRefused(f"{source} does not exist: DATABASE_URL must name the SQLite database to copy")
    async with open_sqlite(source) as sqlite, open_storage(target_url) as postgres:
        assert isinstance(postgres, PostgresStorage)
        return await copy_to_postgres(sqlite, postgres)


async def copy_to_postgres(source: SqliteStorage, target: PostgresStorage) -> Copied:
    running = source.worker.others_running()
    if running:
        raise CopyRefused(
            f"{source.path} is in use by {len(running)} running process(es) ({', '.join(running)}): "
            "stop the bot first, so that nothing changes while it is copied."
        )
    if await source.schema_version() != await target.schema_version():
        raise CopyRefused("the two databases are at different schema versions: run the same imagine-bot on both")
    raw = source.raw
    async with target.locked_connection() as conn:
        filled = [table for table in (*TABLES, "daily_totals") if await _count(conn, table)]
        if filled:
            raise CopyRefused(
                f"the target database already holds data ({', '.join(filled)}): copy into an empty database only"
            )
        rows = {table: await _copy_table(raw, conn, table) for table in TABLES}
        await _settle_reservations(raw, conn)
        for table in _WITH_IDS:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) FROM {table}) IS NOT NULL)"
            )
        await _check(raw, conn, rows)
        source_totals = raw.execute(_TOTALS).fetchall()
        charged = Money(raw.execute(_CHARGED).fetchone()[0])
    return Copied(rows=rows, totals=len(source_totals), charged=charged)


async def _copy_table(raw: sqlite3.Connection, conn: PostgresConnection, table: str) -> int:
    columns = [row[1] for row in raw.execute(f"PRAGMA table_info({table})")]
    booleans = {
        row["column_name"]
        for row in await conn.fetch_all(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? AND data_type = 'boolean'",
            (table,),
        )
    }
    # Reservations go in as they were made; `_settle_reservations` then settles them, so that the triggers
    # rebuild the totals exactly as they grew.
    selected = [
        {"state": "'reserved'", "charged_images": "0", "settled_at": "NULL"}.get(column, column)
        if table == "reservations"
        else column
        for column in columns
    ]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    cursor = raw.execute(f"SELECT {', '.join(selected)} FROM {table} ORDER BY rowid")
    copied = 0
    while batch := cursor.fetchmany(_BATCH):
        values = [_row(columns, booleans, row) for row in batch]
        await conn.execute_many(sql, values)
        copied += len(values)
    return copied


def _row(columns: Sequence[str], booleans: set[str], row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        bool(value) if column in booleans and value is not None else value
        for column, value in zip(columns, row, strict=True)
    )


async def _settle_reservations(raw: sqlite3.Connection, conn: PostgresConnection) -> None:
    cursor = raw.execute(
        "SELECT state, charged_images, settled_at, id FROM reservations WHERE state <> 'reserved' ORDER BY id"
    )
    while batch := cursor.fetchmany(_BATCH):
        await conn.execute_many(
            "UPDATE reservations SET state = ?, charged_images = ?, settled_at = ? WHERE id = ?",
            [tuple(row) for row in batch],
        )


async def _check(raw: sqlite3.Connection, conn: PostgresConnection, rows: dict[str, int]) -> None:
    """Raise (rolling the copy back) unless the target holds what the source does."""
    for table, copied in rows.items():
        if await _count(conn, table) != copied or raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] != copied:
            raise CopyRefused(f"the copy of {table} does not match the source: nothing was written")
    source = sorted(tuple(row) for row in raw.execute(_TOTALS).fetchall())
    target = sorted(tuple(row) for row in await conn.fetch_all(_TOTALS))
    if source != target:
        raise CopyRefused("the daily totals rebuilt in the target differ from the source's: nothing was written")
    charged = await conn.fetch_one(_CHARGED)
    if charged is None or charged[0] != raw.execute(_CHARGED).fetchone()[0]:
        raise CopyRefused("the money charged differs between the two databases: nothing was written")


async def _count(conn: PostgresConnection, table: str) -> int:
    row = await conn.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"]) if row else 0
