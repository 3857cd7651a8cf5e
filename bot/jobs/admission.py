"""Letting a request in: "may this member generate now?", answered in one place, and the reservation.

In order: the channel must allow /imagine, the member must not be blocked, the server must not be
paused, the prompt must pass the server's blocked terms (a refusal is recorded for the moderators),
the member must be under their cap of jobs in flight and waiting, and the budgets must have room.

The first four are read in a transaction that does not wait for the deployment's write lock (`reading()`):
most requests pass them, and a refusal needs no lock. A block or a pause that commits just after they were
read is as if it came just after the request, which it did. The cap, the budgets, the reservation and the
job's row share one writing transaction, so nothing can change in between.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.errors import (
    ChannelNotAllowedError,
    MemberBlockedError,
    PromptBlockedError,
    ServerPausedError,
    TooManyJobsError,
)
from bot.ledger import Ledger
from bot.models import Delivery, Job, JobOrigin, JobRequest, ReportSource
from bot.moderation import Moderation
from bot.safety import find_blocked_term
from bot.storage import Storage, Tx

log = logging.getLogger(__name__)


async def admit(
    storage: Storage,
    ledger: Ledger,
    moderation: Moderation,
    request: JobRequest,
    delivery: Delivery,
    *,
    queue_limit: int,
    now: datetime,
    origin: JobOrigin,
) -> Job:
    """Record the job with its money set aside, or raise the `BotError` that says why not.

    A prompt refused by the server's blocked terms is refused after the transaction, so the report it
    queued for the moderators stays.
    """
    async with storage.reading() as tx:
        term = await _refusal(tx, request, now)
    if term is None:
        async with storage.transaction() as tx:
            return await _reserve_and_record(tx, ledger, request, delivery, queue_limit, now, origin)
    log.info("member %s in server %s: prompt refused by the server's filter", request.member_id, request.guild_id)
    async with storage.transaction() as tx:
        refused = await moderation.record_failure(
            tx,
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            member_id=request.member_id,
            job_id=None,
            prompt=request.prompt,
            reason=f"blocked term “{term}”",
            source=ReportSource.BLOCKED_TERM,
        )
    raise PromptBlockedError(refused.report, refused.auto_block)


async def _refusal(tx: Tx, request: JobRequest, now: datetime) -> str | None:
    """Raise why the member may not generate here now (the channel, a block, a pause); else the blocked term
    the prompt holds, if any."""
    allowed = await tx.guilds.allowed_channels(request.guild_id)
    if allowed and request.channel_id not in allowed:
        raise ChannelNotAllowedError()
    block = await tx.moderation.active_block(request.guild_id, request.member_id, now)
    settings = await tx.guilds.settings(request.guild_id)
    if block is not None:
        reviewable = settings.mod_channel_id is not None  # someone is there to see the appeal's card
        raise MemberBlockedError(block, await tx.appeals.get(block.id), reviewable=reviewable)
    if settings.paused:
        raise ServerPausedError()
    return find_blocked_term(request.prompt, await tx.guilds.blocked_terms(request.guild_id))


async def _reserve_and_record(
    tx: Tx,
    ledger: Ledger,
    request: JobRequest,
    delivery: Delivery,
    queue_limit: int,
    now: datetime,
    origin: JobOrigin,
) -> Job:
    pending = await tx.jobs.unfinished_for_member(request.guild_id, request.member_id)
    if len(pending) >= queue_limit:
        raise TooManyJobsError(queue_limit)
    reservation = await ledger.reserve(
        guild_id=request.guild_id, member_id=request.member_id, role_ids=request.role_ids, images=request.count, tx=tx
    )
    if request.member_name:
        await tx.guilds.remember_name(request.guild_id, request.member_id, request.member_name, now)
    return await tx.jobs.insert(request, reservation=reservation, delivery=delivery, now=now, origin=origin)
