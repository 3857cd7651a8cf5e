"""How a job ends: delivered and charged for what arrived, or failed with its money settled, and the member told.

Each ending is one conditional write (only a job not yet ended can end, and only by the process holding
its lease), so two paths racing to end one job end it once, and a process that lost the job to another ends
nothing and settles no money. `wait` lets a caller (the terminal command) await a job's ending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.clock import Clock
from bot.errors import LeaseLostError
from bot.jobs.sink import DeliveryError, JobSink
from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.models import FailureKind, Job, JobState, ReportSource
from bot.moderation import Moderation
from bot.money import Money
from bot.storage import Storage

log = logging.getLogger(__name__)

_NOT_FINAL = tuple(state for state in JobState if not state.final)


class Endings:
    def __init__(
        self,
        storage: Storage,
        ledger: Ledger,
        moderation: Moderation,
        sink: JobSink,
        *,
        clock: Clock,
        metrics: Metrics,
        on_end: Callable[[int], None],
    ) -> None:
        self._storage = storage
        self._ledger = ledger
        self._moderation = moderation
        self._sink = sink
        self._clock = clock
        self._metrics = metrics
        self._on_end = on_end  # told each job id that ends
        self._ended: dict[int, asyncio.Event] = {}  # set once a job has ended and its member was told

    async def wait(self, job_id: int) -> None:
        await self._event(job_id).wait()

    async def delivered(self, job: Job, images: int) -> None:
        """The result is posted: charge the images that arrived and release the rest."""
        now = self._clock()
        try:
            async with self._storage.transaction() as tx:
                done = await tx.jobs.update(
                    job.id,
                    now,
                    only_from=[JobState.DELIVERING],
                    state=JobState.DELIVERED,
                    images_delivered=images,
                    finished_at=now,
                    notified=True,
                    interaction_token=None,
                )
                if done is not None and done.reservation_id is not None:
                    await self._ledger.commit(done.reservation_id, images, tx=tx)
        except LeaseLostError:
            _left(job.id)
            return
        log.info("job %s: delivered %d images", job.id, images)
        self._metrics.job_ended(JobState.DELIVERED.value, images, job.unit_price * images)
        self._end(job.id)

    async def fail(self, job_id: int, kind: FailureKind, reason: str, *, charge: bool = False) -> None:
        """End a job as failed: settle its money, store a safety report if it was one, tell the member."""
        now = self._clock()
        try:
            async with self._storage.transaction() as tx:
                job = await tx.jobs.update(
                    job_id,
                    now,
                    only_from=_NOT_FINAL,
                    state=JobState.FAILED,
                    failure_kind=kind,
                    failure_reason=reason[:500],
                    finished_at=now,
                    queue_position=None,
                )
                if job is None:
                    return  # it ended already (and was announced where it ended)
                if job.reservation_id is not None:
                    if charge:
                        await self._ledger.commit(job.reservation_id, tx=tx)
                    else:
                        await self._ledger.release(job.reservation_id, tx=tx)
                failure = None
                if kind is FailureKind.SAFETY:
                    failure = await self._moderation.record_failure(
                        tx,
                        guild_id=job.guild_id,
                        channel_id=job.request.channel_id,
                        member_id=job.member_id,
                        job_id=job.id,
                        prompt=job.request.prompt,
                        reason=reason,
                        source=ReportSource.SAFETY,
                    )
        except LeaseLostError:
            _left(job_id)
            return
        self._metrics.job_ended(JobState.FAILED.value, 0, job.cost if charge else Money.zero())
        level = logging.ERROR if kind is FailureKind.BALANCE else logging.INFO
        log.log(level, "job %s: failed (%s): %s", job.id, kind.value, reason)
        await self.notify(job)
        self._end(job.id)
        if failure is not None:
            await self._sink.reported(failure)

    def cancelled(self, job: Job) -> None:
        """A job was cancelled before it was sent (`bot.jobs.cancel`); the press itself answered its member."""
        self._metrics.job_ended(JobState.CANCELLED.value, 0, Money.zero())
        self._end(job.id)

    async def notify(self, job: Job) -> None:
        """Tell the member how their failed job ended (also for endings a stopped process never announced)."""
        charged = job.reservation_id is not None and await self._ledger.is_charged(job.reservation_id)
        try:
            usage = await self._ledger.usage(job.guild_id, job.member_id, job.request.role_ids)
            await self._sink.fail(job, charged=charged, usage=usage)
        except DeliveryError as exc:
            log.warning("job %s: the member could not be told it failed: %s", job.id, exc)
        try:
            async with self._storage.transaction() as tx:
                await tx.jobs.update(job.id, self._clock(), notified=True, interaction_token=None)
        except LeaseLostError:
            _left(job.id)

    def _end(self, job_id: int) -> None:
        self._event(job_id).set()
        self._on_end(job_id)

    def _event(self, job_id: int) -> asyncio.Event:
        return self._ended.setdefault(job_id, asyncio.Event())


def _left(job_id: int) -> None:
    log.info("job %s: this process no longer holds it (another took it over, or it has ended); left as it is", job_id)
