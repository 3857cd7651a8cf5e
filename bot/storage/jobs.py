"""The jobs table: one row per `/imagine` or reroll, the source of truth for its lifecycle.

Also the interactions that were acknowledged but have no job yet (`pending_interactions`).

Both are leased: the process that records a job holds it, and every write of a job's state is conditional
on still holding it, so a process that lost a job to another (it was paused past its lease) changes nothing
and learns so from `LeaseLostError`. A job's lease ends when its member has been told how it ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.errors import LeaseLostError
from bot.models import (
    FORGOTTEN_PROMPT,
    Delivery,
    FailureKind,
    Forgotten,
    Job,
    JobOrigin,
    JobRequest,
    JobState,
    Reservation,
    ReservationState,
)
from bot.money import Money
from bot.storage.connection import NOW_MS, Connection
from bot.storage.convert import fetch_all, fetch_one, from_db, from_db_required, to_db
from bot.storage.interactions import InteractionsTable
from bot.storage.lease import CLAIMABLE, Lease

_JOB_COLUMNS = (
    "id",
    "origin",
    "guild_id",
    "channel_id",
    "member_id",
    "role_ids",
    "prompt",
    "size",
    "image_size",
    "seed",
    "count",
    "output_format",
    "parent_id",
    "state",
    "reservation_id",
    "cost",
    "queue_position",
    "request_id",
    "polling_url",
    "images_delivered",
    "images_posting",
    "failure_kind",
    "failure_reason",
    "application_id",
    "interaction_token",
    "token_expires_at",
    "message_id",
    "channel_message_id",
    "attachment_limit",
    "notified",
    "created_at",
    "updated_at",
    "sent_at",
    "finished_at",
    "style",
    "member_prompt",
)
_COLUMNS = ", ".join(_JOB_COLUMNS)
_UPDATABLE = frozenset(
    {
        "state",
        "notified",
        "queue_position",
        "request_id",
        "polling_url",
        "images_delivered",
        "images_posting",
        "failure_kind",
        "failure_reason",
        "interaction_token",
        "token_expires_at",
        "message_id",
        "channel_message_id",
        "sent_at",
        "finished_at",
    }
)
_FINAL = tuple(state.value for state in JobState if state.final)
_UNFINISHED = "state NOT IN ('delivered', 'failed', 'cancelled')"  # as the partial index jobs_unfinished says


class JobsTable:
    def __init__(self, conn: Connection, lease: Lease) -> None:
        self._conn = conn
        self._lease = lease

    async def insert(
        self,
        request: JobRequest,
        *,
        reservation: Reservation,
        delivery: Delivery,
        now: datetime,
        origin: JobOrigin = JobOrigin.DISCORD,
    ) -> Job:
        """Record a new job, held by this process; the interaction it answers no longer waits for one."""
        values: dict[str, Any] = {
            "lease_owner": self._lease.owner,
            "origin": origin.value,
            "role_ids": ",".join(map(str, request.role_ids)),
            "guild_id": request.guild_id,
            "channel_id": request.channel_id,
            "member_id": request.member_id,
            "prompt": request.prompt,
            "size": request.size,
            "image_size": request.image_size,
            "seed": request.seed,
            "count": request.count,
            "output_format": request.output_format,
            "parent_id": request.parent_id,
            "style": request.style,
            "member_prompt": request.member_prompt,
            "state": JobState.RESERVED.value,
            "reservation_id": reservation.id,
            "cost": reservation.amount.micros,
            "application_id": delivery.application_id,
            "interaction_token": delivery.interaction_token,
            "token_expires_at": to_db(delivery.token_expires_at),
            "message_id": delivery.message_id,
            "attachment_limit": delivery.attachment_limit,
            "created_at": to_db(now),
            "updated_at": to_db(now),
        }
        row = await fetch_one(
            self._conn,
            f"INSERT INTO jobs ({', '.join(values)}, lease_until) VALUES ({_marks(values)}, {NOW_MS} + ?) "
            f"RETURNING {_COLUMNS}",
            (*values.values(), self._lease.millis),
        )
        assert row is not None
        if delivery.interaction_id is not None:  # it has its job now: no longer waiting for one
            await InteractionsTable(self._conn, self._lease).forget(delivery.interaction_id)
        return _job(row)

    async def get(self, job_id: int) -> Job | None:
        row = await fetch_one(self._conn, f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def update(
        self, job_id: int, now: datetime, *, only_from: Iterable[JobState] | None = None, **fields: Any
    ) -> Job | None:
        """Change some columns of a job this process holds. With `only_from`, only if the job is in one of those
        states (else None). Raises `LeaseLostError` if this process no longer holds it: another process took it,
        or its member was told how it ended (by whichever process held it then).

        Setting `notified` ends the lease: nothing is left to do for the job.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = [_column_value(value) for value in fields.values()]
        assignments = ", ".join(f"{name} = ?" for name in [*fields, "updated_at"])
        if fields.get("notified"):
            assignments += ", lease_owner = NULL, lease_until = NULL"
        condition = "id = ? AND lease_owner = ?"
        params: list[Any] = [*values, to_db(now), job_id, self._lease.owner]
        states = None if only_from is None else [state.value for state in only_from]
        if states is not None:
            condition += f" AND state IN ({_marks(states)})"
            params.extend(states)
        sql = f"UPDATE jobs SET {assignments} WHERE {condition} RETURNING {_COLUMNS}"
        row = await fetch_one(self._conn, sql, params)
        if row is not None:
            return _job(row)
        found = await fetch_one(self._conn, "SELECT lease_owner FROM jobs WHERE id = ?", (job_id,))
        if found is None or found["lease_owner"] == self._lease.owner:
            return None
        raise LeaseLostError(job_id, found["lease_owner"])

    async def cancel(self, job_id: int, now: datetime) -> Job | None:
        """End a job never sent to Pixazo as cancelled, whichever process holds it (None if it is not `reserved`).

        The holder's own move out of `reserved` is conditional on the state as well, so of a cancel and a send
        exactly one wins. The member who cancelled is answered at once, so the job's lease ends here: its holder
        learns from `LeaseLostError` when it next writes, and sends nothing.
        """
        sql = (
            "UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, queue_position = NULL, notified = TRUE, "
            "interaction_token = NULL, lease_owner = NULL, lease_until = NULL "
            f"WHERE id = ? AND state = ? RETURNING {_COLUMNS}"
        )
        params = (JobState.CANCELLED.value, to_db(now), to_db(now), job_id, JobState.RESERVED.value)
        row = await fetch_one(self._conn, sql, params)
        return None if row is None else _job(row)

    async def claim(self, origin: JobOrigin, gone: Sequence[str], limit: int) -> list[Job]:
        """Take up to `limit` jobs of one sink that nobody holds (their lease ran out, their holder is `gone`,
        or it let them go) and whose member is still owed something: unfinished, or ended and not yet told.
        Oldest first."""
        sql = (
            f"UPDATE jobs SET lease_owner = ?, lease_until = {NOW_MS} + ? WHERE id IN ("
            f"SELECT id FROM jobs WHERE notified = FALSE AND origin = ? AND {CLAIMABLE} ORDER BY id LIMIT ? "
            f"{self._conn.row_lock}"
            f") RETURNING {_COLUMNS}"
        )
        owner, millis = self._lease.owner, self._lease.millis
        params = (owner, millis, origin.value, owner, json.dumps(list(gone)), limit)
        return sorted((_job(row) for row in await fetch_all(self._conn, sql, params)), key=lambda job: job.id)

    async def renew(self) -> set[int]:
        """Move every lease this process holds on (one statement a table); the ids of the jobs it still holds."""
        until = (self._lease.millis, self._lease.owner)
        await self._conn.execute(
            f"UPDATE pending_interactions SET lease_until = {NOW_MS} + ? WHERE lease_owner = ?", until
        )
        rows = await fetch_all(
            self._conn, f"UPDATE jobs SET lease_until = {NOW_MS} + ? WHERE lease_owner = ? RETURNING id", until
        )
        return {row["id"] for row in rows}

    async def beat(self) -> int:
        """Say this process runs, until its leases would run out; how many processes run now, this one among them."""
        await self._conn.execute(f"DELETE FROM workers WHERE seen_until <= {NOW_MS}")
        await self._conn.execute(
            f"INSERT INTO workers (name, seen_until) VALUES (?, {NOW_MS} + ?) "
            "ON CONFLICT (name) DO UPDATE SET seen_until = excluded.seen_until",
            (self._lease.owner, self._lease.millis),
        )
        row = await fetch_one(self._conn, "SELECT COUNT(*) AS n FROM workers", ())
        assert row is not None
        return int(row["n"])

    async def at_pixazo(self) -> int:
        """How many jobs of the whole deployment are being sent to Pixazo or are there now."""
        at_pixazo = [JobState.SUBMITTING, JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING]
        sql = (
            f"SELECT COUNT(*) AS n FROM jobs WHERE state IN ({_marks(at_pixazo)}) "
            f"AND {_UNFINISHED}"  # the partial index's own condition, so that the index counts them
        )
        row = await fetch_one(self._conn, sql, [state.value for state in at_pixazo])
        assert row is not None
        return int(row["n"])

    async def let_go(self) -> int:
        """Give up every lease this process holds (a clean stop), so another process takes the work at once."""
        owner = (self._lease.owner,)
        await self._conn.execute("DELETE FROM workers WHERE name = ?", owner)
        await self._conn.execute(
            "UPDATE pending_interactions SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", owner
        )
        cursor = await self._conn.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", owner
        )
        return cursor.rowcount

    async def other_holders(self) -> list[str]:
        """The other processes holding a lease that has not run out: those a caller may prove gone."""
        sql = (
            f"SELECT lease_owner FROM jobs WHERE lease_owner IS NOT NULL AND lease_owner <> ? "
            f"AND lease_until > {NOW_MS} UNION "
            f"SELECT lease_owner FROM pending_interactions WHERE lease_owner IS NOT NULL AND lease_owner <> ? "
            f"AND lease_until > {NOW_MS}"
        )
        rows = await fetch_all(self._conn, sql, (self._lease.owner, self._lease.owner))
        return sorted(row["lease_owner"] for row in rows)

    async def holds(self, job_id: int) -> bool:
        """Whether this process holds the job, with time left on its lease by the database's clock."""
        sql = f"SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? AND lease_until > {NOW_MS}"
        return await fetch_one(self._conn, sql, (job_id, self._lease.owner)) is not None

    async def held_elsewhere(self, job_ids: Iterable[int]) -> set[int]:
        """Those of `job_ids` another process holds now."""
        ids = list(job_ids)
        if not ids:
            return set()
        sql = f"SELECT id FROM jobs WHERE id IN ({_marks(ids)}) AND lease_owner IS NOT NULL AND lease_owner <> ?"
        return {row["id"] for row in await fetch_all(self._conn, sql, (*ids, self._lease.owner))}

    async def cancelled_among(self, job_ids: Iterable[int]) -> set[int]:
        """Those of `job_ids` that were cancelled (by whichever process got the press: `cancel` ends the lease)."""
        ids = list(job_ids)
        sql = f"SELECT id FROM jobs WHERE id IN ({_marks(ids)}) AND state = ?"
        return {row["id"] for row in await fetch_all(self._conn, sql, (*ids, JobState.CANCELLED.value))}

    async def unfinished(self, origin: JobOrigin | None = None) -> list[Job]:
        """Jobs not in a final state (of one sink, or all), oldest first: what a starting process must resume."""
        sql = f"SELECT {_COLUMNS} FROM jobs WHERE state NOT IN ({_marks(_FINAL)})"
        params: list[Any] = list(_FINAL)
        if origin is not None:
            sql += " AND origin = ?"
            params.append(origin.value)
        return [_job(row) for row in await fetch_all(self._conn, sql + " ORDER BY id", params)]

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

    async def unnotified(self, origin: JobOrigin) -> list[Job]:
        """Final jobs of one sink whose member was not told how they ended (the process stopped in between)."""
        sql = (
            f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({_marks(_FINAL)}) AND notified = FALSE "
            "AND origin = ? ORDER BY id"
        )
        return [_job(row) for row in await fetch_all(self._conn, sql, (*_FINAL, origin.value))]

    async def forget_member(self, guild_id: int, member_id: int, now: datetime) -> Forgotten:
        """Erase a member's prompts from their finished jobs and decided reports, their name and their /imagine
        defaults; keep the money.

        Jobs stay, with an empty prompt (`JobRequest.forgotten`): their cost is part of the member's day and of the
        server's totals, whose ledger rows never held a prompt. Open reports keep theirs until a moderator decides
        (`ModerationTable.decide_report` erases it then). Blocks stay.
        """
        member = (guild_id, member_id)
        jobs = await self._conn.execute(
            f"UPDATE jobs SET prompt = ?, member_prompt = NULL WHERE guild_id = ? AND member_id = ? AND prompt <> ? "
            f"AND state IN ({_marks(_FINAL)})",
            (FORGOTTEN_PROMPT, *member, FORGOTTEN_PROMPT, *_FINAL),
        )
        reports = await self._conn.execute(
            "UPDATE safety_reports SET prompt = NULL WHERE guild_id = ? AND member_id = ? AND state <> 'open' "
            "AND prompt IS NOT NULL",
            member,
        )
        names = await self._conn.execute("DELETE FROM member_names WHERE guild_id = ? AND member_id = ?", member)
        preferences = await self._conn.execute("DELETE FROM preferences WHERE guild_id = ? AND member_id = ?", member)
        await self._conn.execute(
            "INSERT INTO forgotten_members (guild_id, member_id, forgotten_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id, member_id) DO UPDATE SET forgotten_at = excluded.forgotten_at",
            (*member, to_db(now)),
        )
        kept = await fetch_one(
            self._conn,
            "SELECT (SELECT COUNT(*) FROM safety_reports WHERE guild_id = ? AND member_id = ? AND state = 'open' "
            "AND prompt IS NOT NULL) AS open_reports, "
            "(SELECT COUNT(*) FROM reservations WHERE guild_id = ? AND member_id = ?) AS spend_rows, "
            "(SELECT COUNT(*) FROM blocks WHERE guild_id = ? AND member_id = ?) AS blocks",
            (*member, *member, *member),
        )
        assert kept is not None
        return Forgotten(
            jobs=jobs.rowcount,
            reports=reports.rowcount,
            names=names.rowcount,
            preferences=preferences.rowcount,
            open_reports=int(kept["open_reports"]),
            spend_rows=int(kept["spend_rows"]),
            blocks=int(kept["blocks"]),
        )

    async def recent_for_member(self, guild_id: int, member_id: int, limit: int) -> list[tuple[Job, Money | None]]:
        """A member's last `limit` jobs, newest first, each with what it was charged (None while not settled)."""
        columns = ", ".join(f"jobs.{name}" for name in _JOB_COLUMNS)
        sql = (
            f"SELECT {columns}, reservations.state AS money_state, "
            "reservations.unit_price * reservations.charged_images AS charged FROM jobs "
            "LEFT JOIN reservations ON reservations.id = jobs.reservation_id "
            "WHERE jobs.guild_id = ? AND jobs.member_id = ? ORDER BY jobs.id DESC LIMIT ?"
        )
        rows = await fetch_all(self._conn, sql, (guild_id, member_id, limit))
        unsettled = (None, ReservationState.RESERVED.value)
        return [(_job(row), None if row["money_state"] in unsettled else Money(row["charged"])) for row in rows]


def _marks(values: Sequence[object] | dict[str, Any]) -> str:
    return ", ".join("?" for _ in values)


def _column_value(value: object) -> object:
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, JobState | FailureKind):
        return value.value
    return value


def _job(row: Any) -> Job:
    request = JobRequest(
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        member_id=row["member_id"],
        prompt=row["prompt"],
        size=row["size"],
        image_size=row["image_size"],
        seed=row["seed"],
        count=row["count"],
        output_format=row["output_format"],
        parent_id=row["parent_id"],
        role_ids=tuple(int(role) for role in row["role_ids"].split(",") if role),
        style=row["style"],
        member_prompt=row["member_prompt"],
    )
    delivery = Delivery(
        application_id=row["application_id"],
        interaction_token=row["interaction_token"],
        token_expires_at=from_db(row["token_expires_at"]),
        message_id=row["message_id"],
        channel_message_id=row["channel_message_id"],
        attachment_limit=row["attachment_limit"],
    )
    return Job(
        id=row["id"],
        origin=JobOrigin(row["origin"]),
        request=request,
        state=JobState(row["state"]),
        reservation_id=row["reservation_id"],
        unit_price=Money(row["cost"] // row["count"]),  # the reservation's price: cost is price × count, exactly
        queue_position=row["queue_position"],
        request_id=row["request_id"],
        polling_url=row["polling_url"],
        images_delivered=row["images_delivered"],
        images_posting=row["images_posting"],
        failure_kind=FailureKind(row["failure_kind"]) if row["failure_kind"] else None,
        failure_reason=row["failure_reason"],
        delivery=delivery,
        notified=bool(row["notified"]),
        created_at=from_db_required(row["created_at"]),
        updated_at=from_db_required(row["updated_at"]),
        sent_at=from_db(row["sent_at"]),
        finished_at=from_db(row["finished_at"]),
    )
