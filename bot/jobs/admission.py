"""Letting a request in: the checks before a job exists, and its reservation, in that order.

The channel must allow /imagine, the member must not be blocked, the prompt must pass the
server's blocked terms (a refusal is queued for the moderators), the member must be under their
cap of jobs in flight and waiting, and the budgets must have room. The last two and the job's
row share one transaction with the reservation.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.errors import ChannelNotAllowedError, MemberBlockedError, PromptBlockedError, TooManyJobsError
from bot.ledger import Ledger
from bot.models import Delivery, Job, JobOrigin, JobRequest, ReportSource
from bot.moderation import Moderation
from bot.safety import find_blocked_term
from bot.storage import Storage

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
    origin: JobOrigin = JobOrigin.DISCORD,
) -> Job:
    """Record the job with its money set aside, or raise the `BotError` that says why not."""
    refused: PromptBlockedError | None = None
    async with storage.transaction() as tx:
        allowed = await tx.guilds.allowed_channels(request.guild_id)
        if allowed and request.channel_id not in allowed:
            raise ChannelNotAllowedError()
        block = await tx.moderation.active_block(request.guild_id, request.member_id, now)
        if block is not None:
            raise MemberBlockedError(block.until, block.reason)
        term = find_blocked_term(request.prompt, await tx.guilds.blocked_terms(request.guild_id))
        if term is not None:
            failure = await moderation.record_failure(
                tx,
                guild_id=request.guild_id,
                channel_id=request.channel_id,
                member_id=request.member_id,
                job_id=None,
                prompt=request.prompt,
                reason=f"blocked term “{term}”",
                source=ReportSource.BLOCKED_TERM,
            )
            refused = PromptBlockedError(failure.report, failure.auto_block)
    if refused is not None:  # raised after the commit, so the report stays
        log.info("member %s in server %s: prompt refused by the server's filter", request.member_id, request.guild_id)
        raise refused
    async with storage.transaction() as tx:
        pending = await tx.jobs.unfinished_for_member(request.guild_id, request.member_id)
        if len(pending) >= queue_limit:
            raise TooManyJobsError(queue_limit)
        reservation = await ledger.reserve(
            guild_id=request.guild_id,
            member_id=request.member_id,
            role_ids=request.role_ids,
            images=request.count,
            tx=tx,
        )
        if request.member_name:
            await tx.guilds.remember_name(request.guild_id, request.member_id, request.member_name, now)
        return await tx.jobs.insert(
            request, reservation_id=reservation.id, cost=reservation.amount, delivery=delivery, now=now, origin=origin
        )
