"""The jobs table: one row per `/imagine` or reroll, the source of truth for its lifecycle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bot.models import Delivery, FailureKind, Job, JobRequest, JobState
from bot.storage.convert import fetch_all, fetch_one, from_db, from_db_required, to_db

_COLUMNS = (
    "id, guild_id, channel_id, member_id, prompt, size, image_size, seed, count, output_format, parent_id, "
    "state, reservation_id, cost, queue_position, request_id, polling_url, images_delivered, failure_kind, "
    "failure_reason, application_id, interaction_token, token_expires_at, message_id, channel_message_id, "
    "attachment_limit, notified, created_at, updated_at, finished_at, role_ids"
)
_UPDATABLE = frozenset(
    {
        "state",
        "notified",
        "queue_position",
        "request_id",
        "polling_url",
        "images_delivered",
        "failure_kind",
        "failure_reason",
        "interaction_token",
        "token_expires_at",
        "message_id",
        "channel_message_id",
        "finished_at",
    }
)
_FINAL = tuple(state.value for state in JobState if state.final)


class JobsTable:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def insert(
        self, request: JobRequest, *, reservation_id: int, cost: int, delivery: Delivery, now: datetime
    ) -> Job:
        row = await fetch_one(
            self._conn,
            "INSERT INTO jobs (role_ids, guild_id, channel_id, member_id, prompt, size, image_size, seed, count, "
            "output_format, parent_id, state, reservation_id, cost, application_id, interaction_token, "
            "token_expires_at, message_id, attachment_limit, created_at, updated_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (
                ",".join(map(str, request.role_ids)),
                request.guild_id,
                request.channel_id,
                request.member_id,
                request.prompt,
                request.size,
                request.image_size,
                request.seed,
                request.count,
                request.output_format,
                request.parent_id,
                reservation_id,
                cost,
                delivery.application_id,
                delivery.interaction_token,
                to_db(delivery.token_expires_at),
                delivery.message_id,
                delivery.attachment_limit,
                to_db(now),
                to_db(now),
            ),
        )
        assert row is not None
        return _job(row)

    async def get(self, job_id: int) -> Job | None:
        row = await fetch_one(self._conn, f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def update(
        self, job_id: int, now: datetime, *, only_from: Iterable[JobState] | None = None, **fields: Any
    ) -> Job | None:
        """Change some columns. With `only_from`, only if the job is in one of those states (else None)."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = [_column_value(value) for value in fields.values()]
        assignments = ", ".join(f"{name} = ?" for name in [*fields, "updated_at"])
        condition = "id = ?"
        params: list[Any] = [*values, to_db(now), job_id]
        if only_from is not None:
            states = [state.value for state in only_from]
            condition += f" AND state IN ({_marks(states)})"
            params.extend(states)
        sql = f"UPDATE jobs SET {assignments} WHERE {condition} RETURNING {_COLUMNS}"
        row = await fetch_one(self._conn, sql, params)
        return None if row is None else _job(row)

    async def unfinished(self) -> list[Job]:
        """Every job not in a final state, oldest first: what a starting bot must resume."""
        sql = f"SELECT {_COLUMNS} FROM jobs WHERE state NOT IN ({_marks(_FINAL)}) ORDER BY id"
        return [_job(row) for row in await fetch_all(self._conn, sql, _FINAL)]

    async def unfinished_for_member(self, guild_id: int, member_id: int) -> list[Job]:
        sql = (
            f"SELECT {_COLUMNS} FROM jobs WHERE guild_id = ? AND member_id = ? "
            f"AND state NOT IN ({_marks(_FINAL)}) ORDER BY id"
        )
        return [_job(row) for row in await fetch_all(self._conn, sql, (guild_id, member_id, *_FINAL))]

    async def by_state(self, states: Sequence[JobState]) -> list[Job]:
        values = [state.value for state in states]
        sql = f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({_marks(values)}) ORDER BY id"
        return [_job(row) for row in await fetch_all(self._conn, sql, values)]

    async def unnotified(self) -> list[Job]:
        """Final jobs whose member was not told how they ended (the bot stopped in between)."""
        sql = f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({_marks(_FINAL)}) AND notified = FALSE ORDER BY id"
        return [_job(row) for row in await fetch_all(self._conn, sql, _FINAL)]

    async def forget_member(self, guild_id: int, member_id: int) -> int:
        """Delete a member's jobs and the prompts of their reports. The ledger rows stay, without prompts."""
        await self._conn.execute(
            "UPDATE safety_reports SET prompt = NULL WHERE guild_id = ? AND member_id = ?",
            (guild_id, member_id),
        )
        await self._conn.execute("DELETE FROM member_names WHERE guild_id = ? AND member_id = ?", (guild_id, member_id))
        cursor = await self._conn.execute(
            "DELETE FROM jobs WHERE guild_id = ? AND member_id = ? AND state IN (?, ?, ?)",
            (guild_id, member_id, *_FINAL),
        )
        return cursor.rowcount


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _column_value(value: object) -> object:
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, JobState | FailureKind):
        return value.value
    return value


def _job(row: Sequence[Any]) -> Job:
    request = JobRequest(
        guild_id=row[1],
        channel_id=row[2],
        member_id=row[3],
        prompt=row[4],
        size=row[5],
        image_size=row[6],
        seed=row[7],
        count=row[8],
        output_format=row[9],
        parent_id=row[10],
        role_ids=tuple(int(role) for role in row[30].split(",") if role),
    )
    delivery = Delivery(
        application_id=row[20],
        interaction_token=row[21],
        token_expires_at=from_db(row[22]),
        message_id=row[23],
        channel_message_id=row[24],
        attachment_limit=row[25],
    )
    return Job(
        id=row[0],
        request=request,
        state=JobState(row[11]),
        reservation_id=row[12],
        cost=row[13],
        queue_position=row[14],
        request_id=row[15],
        polling_url=row[16],
        images_delivered=row[17],
        failure_kind=FailureKind(row[18]) if row[18] else None,
        failure_reason=row[19],
        delivery=delivery,
        notified=bool(row[26]),
        created_at=from_db_required(row[27]),
        updated_at=from_db_required(row[28]),
        finished_at=from_db(row[29]),
    )
