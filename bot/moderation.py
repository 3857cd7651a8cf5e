"""Safety reports, moderators' decisions and blocks, including the automatic block after repeated failures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.clock import Clock
from bot.errors import BotError
from bot.models import Block, ReportSource, ReportState, SafetyReport
from bot.storage import Storage, Tx

log = logging.getLogger(__name__)

AUTO_BLOCK_WINDOW = timedelta(hours=24)
AUTO_BLOCK_LENGTH = timedelta(hours=24)
HISTORY_WINDOW = timedelta(days=7)


class Decision(StrEnum):
    DISMISS = "dismiss"
    BLOCK_DAY = "block24h"
    BLOCK_WEEK = "block7d"
    BLOCK_FOREVER = "blockperm"
    UNBLOCK = "unblock"

    @property
    def block_length(self) -> timedelta | None:
        return {Decision.BLOCK_DAY: timedelta(hours=24), Decision.BLOCK_WEEK: timedelta(days=7)}.get(self)

    @property
    def blocks(self) -> bool:
        return self in (Decision.BLOCK_DAY, Decision.BLOCK_WEEK, Decision.BLOCK_FOREVER)


@dataclass(frozen=True, slots=True)
class Failure:
    """A safety failure as recorded: its report, and the automatic block it caused, if any."""

    report: SafetyReport
    auto_block: Block | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a moderator's decision did."""

    report: SafetyReport | None  # None when the report had been decided already
    block: Block | None  # the block now in force, if any


class Moderation:
    def __init__(self, storage: Storage, clock: Clock, *, auto_block_after: int) -> None:
        self._storage = storage
        self._clock = clock
        self.auto_block_after = auto_block_after

    async def record_failure(
        self,
        tx: Tx,
        *,
        guild_id: int,
        channel_id: int,
        member_id: int,
        job_id: int | None,
        prompt: str,
        reason: str,
        source: ReportSource,
    ) -> Failure:
        """Queue a safety report, and block the member for a day if this makes too many in 24 hours."""
        now = self._clock()
        report = await tx.moderation.add_report(
            guild_id=guild_id,
            channel_id=channel_id,
            member_id=member_id,
            job_id=job_id,
            prompt=prompt,
            reason=reason,
            source=source,
            reporter_id=None,
            now=now,
        )
        if not self.auto_block_after:
            return Failure(report, None)
        recent = await tx.moderation.safety_failures_since(guild_id, member_id, now - AUTO_BLOCK_WINDOW)
        if recent < self.auto_block_after or await tx.moderation.active_block(guild_id, member_id, now):
            return Failure(report, None)
        block = await tx.moderation.add_block(
            guild_id,
            member_id,
            until=now + AUTO_BLOCK_LENGTH,
            moderator_id=None,
            now=now,
            reason=f"automatic: {recent} safety failures in 24 hours",
        )
        log.info("member %s blocked automatically in server %s after %d failures", member_id, guild_id, recent)
        return Failure(report, block)

    async def report_result(self, job_id: int, reporter_id: int) -> SafetyReport | None:
        """A member's Report press on a result; None if its report is already waiting for the moderators.

        An image has one report, however many press: once a moderator decided on it, pressing again says so.
        """
        async with self._storage.transaction() as tx:
            job = await tx.jobs.get(job_id)
            if job is None:
                raise BotError("That image is no longer on record, so it cannot be reported.")
            existing = await tx.moderation.report_for_job(job_id, ReportSource.MEMBER)
            if existing is not None:
                if existing.state is ReportState.OPEN:
                    return None
                raise BotError("A moderator already reviewed this image.")
            return await tx.moderation.add_report(
                guild_id=job.guild_id,
                channel_id=job.request.channel_id,
                member_id=job.member_id,
                job_id=job.id,
                prompt=None if job.request.forgotten else job.request.prompt,
                reason="reported by a member",
                source=ReportSource.MEMBER,
                reporter_id=reporter_id,
                now=self._clock(),
            )

    async def decide(self, report_id: int, decision: Decision, moderator_id: int) -> Outcome:
        """Apply a moderator's decision on a report card."""
        now = self._clock()
        async with self._storage.transaction() as tx:
            report = await tx.moderation.report(report_id)
            if report is None:
                return Outcome(None, None)
            if decision is Decision.UNBLOCK:
                await tx.moderation.lift_blocks(report.guild_id, report.member_id, moderator_id=moderator_id, now=now)
                return Outcome(report, None)
            state = ReportState.ACTIONED if decision.blocks else ReportState.DISMISSED
            decided = await tx.moderation.decide_report(
                report_id, state=state, moderator_id=moderator_id, decision=decision.value, now=now
            )
            block = None
            if decided is not None and decision.blocks:
                length = decision.block_length
                block = await tx.moderation.add_block(
                    report.guild_id,
                    report.member_id,
                    until=now + length if length else None,
                    reason=f"report {report_id}",
                    moderator_id=moderator_id,
                    now=now,
                )
            current = block or await tx.moderation.active_block(report.guild_id, report.member_id, now)
        return Outcome(decided, current)

    async def block(
        self, guild_id: int, member_id: int, *, hours: float | None, reason: str | None, moderator_id: int
    ) -> Block:
        now = self._clock()
        async with self._storage.transaction() as tx:
            return await tx.moderation.add_block(
                guild_id,
                member_id,
                until=now + timedelta(hours=hours) if hours else None,
                reason=reason,
                moderator_id=moderator_id,
                now=now,
            )

    async def unblock(self, guild_id: int, member_id: int, moderator_id: int) -> int:
        async with self._storage.transaction() as tx:
            return await tx.moderation.lift_blocks(guild_id, member_id, moderator_id=moderator_id, now=self._clock())

    async def active_block(self, guild_id: int, member_id: int) -> Block | None:
        async with self._storage.reading() as tx:
            return await tx.moderation.active_block(guild_id, member_id, self._clock())

    async def recent_failures(self, guild_id: int, member_id: int) -> int:
        async with self._storage.reading() as tx:
            return await tx.moderation.safety_failures_since(guild_id, member_id, self._clock() - HISTORY_WINDOW)

    async def pending(self, guild_id: int, page: int, per_page: int = 10) -> tuple[list[SafetyReport], int]:
        async with self._storage.reading() as tx:
            total = await tx.moderation.count_reports(guild_id, ReportState.OPEN)
            reports = await tx.moderation.reports(
                guild_id, state=ReportState.OPEN, limit=per_page, offset=(page - 1) * per_page
            )
        return reports, total

    async def history(self, guild_id: int, member_id: int) -> tuple[list[SafetyReport], list[Block]]:
        async with self._storage.reading() as tx:
            reports = await tx.moderation.reports(guild_id, member_id=member_id, limit=10)
            blocks = await tx.moderation.blocks_of(guild_id, member_id, limit=10)
        return reports, blocks

    async def report(self, report_id: int) -> SafetyReport | None:
        async with self._storage.reading() as tx:
            return await tx.moderation.report(report_id)

    async def set_card(self, report_id: int, channel_id: int, message_id: int) -> None:
        async with self._storage.transaction() as tx:
            await tx.moderation.set_card(report_id, channel_id, message_id)
