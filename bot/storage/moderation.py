"""Blocks and safety reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.models import Block, ReportSource, ReportState, SafetyReport
from bot.storage.connection import Connection
from bot.storage.convert import fetch_all, fetch_one, from_db, from_db_required, to_db

_BLOCK_COLUMNS = "id, guild_id, member_id, until, reason, moderator_id, created_at, lifted_at, lifted_by"
_REPORT_COLUMNS = (
    "id, guild_id, channel_id, member_id, job_id, prompt, reason, source, state, created_at, reporter_id, "
    "moderator_id, decision, decided_at, card_channel_id, card_message_id"
)

# The report's member asked to be forgotten after it was made.
_FORGOTTEN_BEFORE = (
    "EXISTS (SELECT 1 FROM forgotten_members f WHERE f.guild_id = safety_reports.guild_id "
    "AND f.member_id = safety_reports.member_id AND f.forgotten_at >= safety_reports.created_at)"
)


class ModerationTable:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- blocks ---------------------------------------------------------------------------------

    async def active_block(self, guild_id: int, member_id: int, now: datetime) -> Block | None:
        """The block in force now that ends last (a permanent one first), if any."""
        row = await fetch_one(
            self._conn,
            f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE guild_id = ? AND member_id = ? AND lifted_at IS NULL "
            "AND (until IS NULL OR until > ?) ORDER BY until IS NULL DESC, until DESC LIMIT 1",
            (guild_id, member_id, to_db(now)),
        )
        return None if row is None else _block(row)

    async def block(self, block_id: int) -> Block | None:
        row = await fetch_one(self._conn, f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE id = ?", (block_id,))
        return None if row is None else _block(row)

    async def add_block(
        self,
        guild_id: int,
        member_id: int,
        *,
        until: datetime | None,
        reason: str | None,
        moderator_id: int | None,
        now: datetime,
    ) -> Block:
        row = await fetch_one(
            self._conn,
            "INSERT INTO blocks (guild_id, member_id, until, reason, moderator_id, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_BLOCK_COLUMNS}",
            (guild_id, member_id, to_db(until), reason, moderator_id, to_db(now)),
        )
        assert row is not None
        return _block(row)

    async def lift_blocks(self, guild_id: int, member_id: int, *, moderator_id: int, now: datetime) -> int:
        cursor = await self._conn.execute(
            "UPDATE blocks SET lifted_at = ?, lifted_by = ? WHERE guild_id = ? AND member_id = ? "
            "AND lifted_at IS NULL AND (until IS NULL OR until > ?)",
            (to_db(now), moderator_id, guild_id, member_id, to_db(now)),
        )
        return cursor.rowcount

    async def blocks_of(self, guild_id: int, member_id: int, limit: int = 25) -> list[Block]:
        return [
            _block(row)
            for row in await fetch_all(
                self._conn,
                f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE guild_id = ? AND member_id = ? ORDER BY id DESC LIMIT ?",
                (guild_id, member_id, limit),
            )
        ]

    # --- reports --------------------------------------------------------------------------------

    async def add_report(
        self,
        *,
        guild_id: int,
        channel_id: int,
        member_id: int,
        job_id: int | None,
        prompt: str | None,
        reason: str,
        source: ReportSource,
        reporter_id: int | None,
        now: datetime,
    ) -> SafetyReport:
        row = await fetch_one(
            self._conn,
            "INSERT INTO safety_reports (guild_id, channel_id, member_id, job_id, prompt, reason, source, state, "
            f"reporter_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) RETURNING {_REPORT_COLUMNS}",
            (guild_id, channel_id, member_id, job_id, prompt, reason, source.value, reporter_id, to_db(now)),
        )
        assert row is not None
        return _report(row)

    async def report(self, report_id: int) -> SafetyReport | None:
        row = await fetch_one(self._conn, f"SELECT {_REPORT_COLUMNS} FROM safety_reports WHERE id = ?", (report_id,))
        return None if row is None else _report(row)

    async def report_for_job(self, job_id: int, source: ReportSource) -> SafetyReport | None:
        row = await fetch_one(
            self._conn,
            f"SELECT {_REPORT_COLUMNS} FROM safety_reports WHERE job_id = ? AND source = ? ORDER BY id LIMIT 1",
            (job_id, source.value),
        )
        return None if row is None else _report(row)

    async def decide_report(
        self, report_id: int, *, state: ReportState, moderator_id: int, decision: str, now: datetime
    ) -> SafetyReport | None:
        """Record a decision on an open report; None when it was decided already. A report made before its member
        asked to be forgotten kept its prompt only until now."""
        row = await fetch_one(
            self._conn,
            "UPDATE safety_reports SET state = ?, moderator_id = ?, decision = ?, decided_at = ?, "
            f"prompt = CASE WHEN {_FORGOTTEN_BEFORE} THEN NULL ELSE prompt END "
            f"WHERE id = ? AND state = 'open' RETURNING {_REPORT_COLUMNS}",
            (state.value, moderator_id, decision, to_db(now), report_id),
        )
        return None if row is None else _report(row)

    async def set_card(self, report_id: int, channel_id: int, message_id: int) -> None:
        await self._conn.execute(
            "UPDATE safety_reports SET card_channel_id = ?, card_message_id = ? WHERE id = ?",
            (channel_id, message_id, report_id),
        )

    async def reports(
        self,
        guild_id: int,
        *,
        state: ReportState | None = None,
        member_id: int | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SafetyReport]:
        conditions: list[str] = ["guild_id = ?"]
        params: list[object] = [guild_id]
        if state is not None:
            conditions.append("state = ?")
            params.append(state.value)
        if member_id is not None:
            conditions.append("member_id = ?")
            params.append(member_id)
        return [
            _report(row)
            for row in await fetch_all(
                self._conn,
                f"SELECT {_REPORT_COLUMNS} FROM safety_reports WHERE {' AND '.join(conditions)} "
                "ORDER BY id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        ]

    async def count_reports(self, guild_id: int, state: ReportState) -> int:
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*) AS n FROM safety_reports WHERE guild_id = ? AND state = ?",
            (guild_id, state.value),
        )
        return int(row["n"]) if row else 0

    async def safety_failures_since(self, guild_id: int, member_id: int, since: datetime) -> int:
        """Safety-check and blocked-term failures (not member reports) since `since`."""
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*) AS n FROM safety_reports WHERE guild_id = ? AND member_id = ? "
            "AND source IN ('safety', 'blocked_term') AND created_at > ?",
            (guild_id, member_id, to_db(since)),
        )
        return int(row["n"]) if row else 0


def _block(row: Any) -> Block:
    return Block(
        id=row["id"],
        guild_id=row["guild_id"],
        member_id=row["member_id"],
        until=from_db(row["until"]),
        reason=row["reason"],
        moderator_id=row["moderator_id"],
        created_at=from_db_required(row["created_at"]),
        lifted_at=from_db(row["lifted_at"]),
        lifted_by=row["lifted_by"],
    )


def _report(row: Any) -> SafetyReport:
    return SafetyReport(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        member_id=row["member_id"],
        job_id=row["job_id"],
        prompt=row["prompt"],
        reason=row["reason"],
        source=ReportSource(row["source"]),
        state=ReportState(row["state"]),
        created_at=from_db_required(row["created_at"]),
        reporter_id=row["reporter_id"],
        moderator_id=row["moderator_id"],
        decision=row["decision"],
        decided_at=from_db(row["decided_at"]),
        card_channel_id=row["card_channel_id"],
        card_message_id=row["card_message_id"],
    )
