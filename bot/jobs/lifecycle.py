"""One job's life at Pixazo (DESIGN.md): submit, poll until it ends, fetch the images and post them.

Every transition is written to the database before it is acted on, so a job found at start can be
carried on from where it stopped: a job found in ``submitting`` may have been billed and is never
sent twice; a job found in ``delivering`` with a result on its way is checked with the sink before it
is posted again. A submit abandoned in flight, whatever abandons it, is settled as interrupted and
charged.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot.aio import to_the_end
from bot.clock import Clock
from bot.errors import PixazoAuthError, PixazoBalanceError, PixazoError, PixazoNotFoundError, PixazoTransientError
from bot.jobs.endings import Endings
from bot.jobs.policy import failure_kind, poll_interval
from bot.jobs.settings import RunnerSettings
from bot.jobs.sink import DeliveryError, JobSink
from bot.ledger import Ledger
from bot.models import FailureKind, Job, JobState
from bot.pixazo import DownloadedImage, GenerationRequest, PixazoClient, UpstreamState, UpstreamStatus
from bot.progress import Progress, QueueWatch, Stage
from bot.servers import Servers
from bot.storage import Storage

log = logging.getLogger(__name__)


class Lifecycle:
    def __init__(
        self,
        storage: Storage,
        ledger: Ledger,
        servers: Servers,
        pixazo: PixazoClient,
        sink: JobSink,
        endings: Endings,
        settings: RunnerSettings,
        *,
        clock: Clock,
    ) -> None:
        self._storage = storage
        self._ledger = ledger
        self._servers = servers
        self._pixazo = pixazo
        self._sink = sink
        self._endings = endings
        self._settings = settings
        self._clock = clock

    async def run(self, job: Job) -> None:
        """Carry a job on from its recorded state to its end."""
        try:
            if job.state is JobState.SUBMITTING:
                # Found at start: the submit may have reached Pixazo. Never send it twice.
                await self._endings.fail(job.id, FailureKind.INTERRUPTED, "interrupted during submit", charge=True)
                return
            if job.state is JobState.DELIVERING and job.images_posting is not None:
                # Its result was being posted when the process stopped: what is on record says if it arrived.
                shown = await self._sink.delivered_images(job)
                if shown != 0:
                    await self._endings.delivered(job, job.images_posting if shown is None else shown)
                    return
            ended = await self._until_done_upstream(job)
            if ended is not None:
                await self._conclude(*ended)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: unexpected error", job.id)
            await self._endings.fail(job.id, FailureKind.UPSTREAM, "internal error")

    async def show(self, job: Job, progress: Progress) -> None:
        try:
            await self._sink.progress(job, progress)
        except DeliveryError as exc:
            log.warning("job %s: progress could not be shown: %s", job.id, exc)

    async def _until_done_upstream(self, job: Job) -> tuple[Job, UpstreamStatus] | None:
        """Submit (if not yet) and poll until Pixazo says it ended, within the job's render deadline.

        The deadline runs from when the job was sent: time in the bot's own queue does not count.
        """
        sent_at = job.sent_at or self._clock()
        deadline = sent_at + timedelta(seconds=self._settings.job_timeout_seconds)
        try:
            async with asyncio.timeout(max(0.0, (deadline - self._clock()).total_seconds())):
                if job.state is JobState.RESERVED:
                    submitted = await self._submit(job, sent_at)
                    if submitted is None:
                        return None
                    job = submitted
                return await self._poll(job)
        except TimeoutError:
            await self._endings.fail(job.id, FailureKind.TIMEOUT, "timed out")  # a cut-off submit was settled already
            return None

    async def _submit(self, job: Job, sent_at: datetime) -> Job | None:
        await self.show(job, Progress(Stage.SUBMITTING))
        job = await self._move(job, JobState.SUBMITTING, sent_at=sent_at)  # nothing awaits between this and the call
        request = job.request
        try:
            submitted = await self._pixazo.submit(
                GenerationRequest(
                    prompt=request.prompt,
                    image_size=request.image_size,
                    num_images=request.count,
                    seed=request.seed,
                    output_format=request.output_format,
                    num_inference_steps=self._settings.inference_steps,
                )
            )
        except asyncio.CancelledError:
            # A deadline, a shutdown or a terminal's Ctrl-C cut the call off: Pixazo may have the job and bill it.
            log.warning("job %s: submit abandoned in flight; counting it as billed", job.id)
            await to_the_end(
                self._endings.fail(job.id, FailureKind.INTERRUPTED, "stopped while being sent", charge=True)
            )
            raise
        except PixazoTransientError as exc:
            if exc.request_may_have_arrived:
                log.warning("job %s: submit interrupted (%s); counting it as billed", job.id, exc)
                await self._endings.fail(job.id, FailureKind.INTERRUPTED, str(exc), charge=True)
            else:
                await self._endings.fail(job.id, FailureKind.UPSTREAM, str(exc))
            return None
        except PixazoError as exc:
            await self._endings.fail(job.id, failure_kind(exc), str(exc))
            return None
        log.info("job %s: submitted as %s", job.id, submitted.request_id)
        return await self._move(
            job, JobState.SUBMITTED, request_id=submitted.request_id, polling_url=submitted.polling_url
        )

    async def _poll(self, job: Job) -> tuple[Job, UpstreamStatus] | None:
        assert job.request_id is not None
        watch = QueueWatch()
        loop = asyncio.get_running_loop()
        errors = 0
        while True:
            try:
                status = await self._pixazo.status(job.request_id, job.polling_url)
            except (PixazoNotFoundError, PixazoAuthError, PixazoBalanceError) as exc:
                await self._endings.fail(job.id, failure_kind(exc), str(exc))
                return None
            except PixazoError as exc:
                errors += 1
                if errors >= self._settings.max_poll_errors:
                    await self._endings.fail(job.id, failure_kind(exc), str(exc))
                    return None
                log.warning("job %s: polling failed (%s); %d in a row", job.id, exc, errors)
                await asyncio.sleep(self._settings.poll_max_seconds)
                continue
            errors = 0
            if status.state in (UpstreamState.COMPLETED, UpstreamState.FAILED):
                return job, status
            state = JobState.RUNNING if status.state is UpstreamState.RUNNING else JobState.QUEUED
            if state is not job.state or status.queue_position != job.queue_position:
                job = await self._move(job, state, queue_position=status.queue_position)
                if state is JobState.RUNNING:
                    progress = Progress(Stage.RENDERING)
                else:
                    moved, eta = (None, None)
                    if status.queue_position is not None:
                        moved, eta = watch.observe(loop.time(), status.queue_position)
                    progress = Progress(Stage.QUEUED, position=status.queue_position, moved=moved, eta_seconds=eta)
                await self.show(job, progress)
            await asyncio.sleep(poll_interval(status, self._settings))

    async def _conclude(self, job: Job, status: UpstreamStatus) -> None:
        if status.state is UpstreamState.FAILED:
            if status.safety:
                charged = (await self._servers.settings(job.guild_id)).safety_charged
                await self._endings.fail(job.id, FailureKind.SAFETY, status.reason or "safety check", charge=charged)
            else:
                await self._endings.fail(job.id, FailureKind.UPSTREAM, status.reason or "failed upstream")
            return
        await self._deliver(job, status)

    async def _deliver(self, job: Job, status: UpstreamStatus) -> None:
        await self.show(job, Progress(Stage.DELIVERING))
        images: list[DownloadedImage] = []
        for image in status.images[: job.request.count]:
            try:
                images.append(await self._pixazo.download(image.url, self._settings.max_image_bytes))
            except PixazoError as exc:
                log.warning("job %s: an image could not be fetched: %s", job.id, exc)
        if not images:
            reason = "no images in the result" if not status.images else "images could not be fetched"
            await self._endings.fail(job.id, FailureKind.DELIVERY, reason)
            return
        # written before the post, as every transition: a restart then asks the sink what arrived
        job = await self._move(job, JobState.DELIVERING, queue_position=None, images_posting=len(images))
        usage = await self._ledger.usage_once_charged(job, len(images))
        try:
            await self._sink.deliver(job, images, usage)
        except DeliveryError as exc:
            log.warning("job %s: the result could not be posted: %s", job.id, exc)
            await self._endings.fail(job.id, FailureKind.DELIVERY, str(exc))
            return
        await self._endings.delivered(job, len(images))

    async def _move(self, job: Job, state: JobState, **fields: object) -> Job:
        """Write a transition before acting on it."""
        async with self._storage.transaction() as tx:
            moved = await tx.jobs.update(job.id, self._clock(), only_from=[job.state], state=state, **fields)
        if moved is None:
            raise RuntimeError(f"job {job.id} left {job.state} behind the runner's back")
        return moved
