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
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.aio import to_the_end
from bot.clock import Clock
from bot.errors import (
    LeaseLostError,
    PixazoAuthError,
    PixazoBalanceError,
    PixazoError,
    PixazoNotFoundError,
    PixazoRateLimitedError,
    PixazoTransientError,
)
from bot.jobs.endings import Endings
from bot.jobs.planner import QueueModel
from bot.jobs.policy import failure_kind
from bot.jobs.settings import RunnerSettings
from bot.jobs.sink import DeliveryError, JobSink
from bot.jobs.wakes import Wakes
from bot.ledger import Ledger
from bot.models import FailureKind, Job, JobState
from bot.pixazo import DownloadedImage, GenerationRequest, PixazoClient, UpstreamState, UpstreamStatus
from bot.pixazo.capacity import Capacity
from bot.progress import Progress, Stage
from bot.servers import Servers
from bot.storage import Storage
from bot.webhooks import WebhookUrls

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
        model: QueueModel,
        wakes: Wakes,
        capacity: Capacity,
        requeue: Callable[[Job], None],
        running_here: Callable[[], int],
        webhooks: WebhookUrls | None,
    ) -> None:
        self._storage = storage
        self._ledger = ledger
        self._servers = servers
        self._pixazo = pixazo
        self._sink = sink
        self._endings = endings
        self._settings = settings
        self._clock = clock
        self._model = model
        self._wakes = wakes
        self._capacity = capacity
        self._requeue = requeue  # back to the bot's own queue, when there is no room at Pixazo for it now
        self._running_here = running_here  # how many jobs this process is working on
        self._webhooks = webhooks
        self.in_flight = 0  # jobs sent and not yet ended, for the capacity

    async def run(self, job: Job) -> None:
        """Carry a job on from its recorded state to its end."""
        self._wakes.watch(job.id)
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
        except LeaseLostError as lost:
            if lost.holder is None:  # nobody holds it: another process ended it (delivered it, or it was cancelled)
                log.warning("job %s: taken over by another process, which has ended it; this one leaves it", job.id)
            else:
                log.warning("job %s: taken over by another process; this one leaves it", job.id)
        except Exception:
            log.exception("job %s: unexpected error", job.id)
            await self._endings.fail(job.id, FailureKind.UPSTREAM, "internal error")
        finally:
            self._model.forget(job.id)
            self._wakes.forget(job.id)

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
                asked_at = -math.inf  # a resumed job is asked about at once
                if job.state is JobState.RESERVED:
                    submitted = await self._submit(job, sent_at)
                    if submitted is None:
                        return None
                    job, asked_at = submitted, asyncio.get_running_loop().time()
                return await self._poll(job, asked_at)
        except TimeoutError:
            await self._endings.fail(job.id, FailureKind.TIMEOUT, "timed out")  # a cut-off submit was settled already
            return None

    async def _submit(self, job: Job, sent_at: datetime) -> Job | None:
        await self.show(job, Progress(Stage.SUBMITTING))  # shown only if sending takes a while
        sending = await self._start_sending(job, sent_at)  # nothing awaits between this and the call
        if sending is None:
            # Every job the deployment may keep at Pixazo is there, some sent by other processes: wait for room.
            self._capacity.deployment_full(self._running_here() - 1)  # this job's own run is ending
            self._requeue(job)
            return None
        job, request = sending, sending.request
        self.in_flight += 1
        try:
            submitted = await self._pixazo.submit(
                GenerationRequest(
                    prompt=request.prompt,
                    image_size=request.image_size,
                    num_images=request.count,
                    seed=request.seed,
                    output_format=request.output_format,
                    num_inference_steps=self._settings.inference_steps,
                ),
                webhook_url=self._webhooks.url_for(job.id) if self._webhooks else None,
            )
        except asyncio.CancelledError:
            # A deadline, a shutdown or a terminal's Ctrl-C cut the call off: Pixazo may have the job and bill it.
            log.warning("job %s: submit abandoned in flight; counting it as billed", job.id)
            await to_the_end(
                self._endings.fail(job.id, FailureKind.INTERRUPTED, "stopped while being sent", charge=True)
            )
            raise
        except PixazoRateLimitedError:
            # Too much at once: Pixazo made no job. Send less at a time, and this one again when there is room.
            self._capacity.refused(self.in_flight)
            self._requeue(await self._move(job, JobState.RESERVED, sent_at=None))
            return None
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
        finally:
            self.in_flight -= 1
        log.info("job %s: submitted as %s", job.id, submitted.request_id)
        self._model.submitted(job.id, asyncio.get_running_loop().time())
        job = await self._move(
            job, JobState.SUBMITTED, request_id=submitted.request_id, polling_url=submitted.polling_url
        )
        now = asyncio.get_running_loop().time()
        await self.show(job, Progress(Stage.QUEUED, starts_in=self._model.expected_start(job.id, now)))
        return job

    async def _poll(self, job: Job, asked_at: float) -> tuple[Job, UpstreamStatus] | None:
        """Ask Pixazo about the job when the plan says (or a webhook call does) until it ends."""
        assert job.request_id is not None
        loop = asyncio.get_running_loop()
        errors = 0
        self.in_flight += 1
        try:
            wait = self._plan(job, loop.time(), asked_at)
            while True:
                woken = await self._wakes.sleep(job.id, wait)
                now = loop.time()
                if not woken and not self._worth_asking(job, now, asked_at):
                    wait = self._plan(job, now, asked_at)  # learnt since: not yet
                    continue
                asked_at = now
                self._model.asked(job.id, now)
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
                    wait = self._settings.poll_max_seconds
                    continue
                errors = 0
                now = loop.time()
                if status.state in (UpstreamState.COMPLETED, UpstreamState.FAILED):
                    self._model.done(job.id, now)
                    return job, status
                job = await self._seen(job, status, asked_at, now)
                wait = self._plan(job, now, asked_at)
        finally:
            self.in_flight -= 1

    async def _seen(self, job: Job, status: UpstreamStatus, asked: float, now: float) -> Job:
        """Record where Pixazo says the job is (by a call sent at `asked`, answered `now`), learn from it, and show
        it if it moved."""
        rendering = status.state is UpstreamState.RUNNING
        if rendering:
            self._model.rendering(job.id, now, asked=asked)
        elif status.queue_position is not None:
            self._model.queued(job.id, status.queue_position, now, asked=asked)
        state = JobState.RUNNING if rendering else JobState.QUEUED
        if state is job.state and status.queue_position == job.queue_position:
            return job
        previous = job.queue_position
        job = await self._move(job, state, queue_position=status.queue_position)
        end = self._model.expected_end(job.id, now, rendering=rendering)
        ends_in = None if end is None else max(0.0, end - now)
        if rendering:
            await self.show(job, Progress(Stage.RENDERING, ends_in=ends_in))
        else:
            moved = previous - status.queue_position if previous and status.queue_position else None
            starts_in = self._model.expected_start(job.id, now)
            where = Progress(Stage.QUEUED, status.queue_position, moved=moved, starts_in=starts_in, ends_in=ends_in)
            await self.show(job, where)
        return job

    def _plan(self, job: Job, now: float, asked_at: float) -> float:
        """Seconds until the job's plan is looked at again: a slow fallback while webhooks say when jobs end."""
        if self._wakes.webhooks_working:
            return max(0.0, asked_at + self._settings.poll_max_seconds - now)
        return self._model.next_look(job.id, now, rendering=job.state is JobState.RUNNING)

    def _worth_asking(self, job: Job, now: float, asked_at: float) -> bool:
        """Whether a job whose look has come is asked about now (a job woken by a webhook always is)."""
        if self._wakes.webhooks_working:
            return now - asked_at >= self._settings.poll_max_seconds
        return self._model.worth_asking(job.id, now, rendering=job.state is JobState.RUNNING)

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
        self._capacity.succeeded()

    async def _start_sending(self, job: Job, sent_at: datetime) -> Job | None:
        """Move the job to submitting if the deployment has room at Pixazo for one more (None if not). The
        count and the move are one transaction, so two processes never both take the last place. The move is
        conditional on the job still being `reserved`: a job cancelled first, in any process, has no lease any more
        (`LeaseLostError`) and is never sent."""
        async with self._storage.transaction() as tx:
            if await tx.jobs.at_pixazo() >= self._settings.max_active_jobs:
                return None
            moved = await tx.jobs.update(
                job.id, self._clock(), only_from=[job.state], state=JobState.SUBMITTING, sent_at=sent_at
            )
        if moved is None:
            raise RuntimeError(f"job {job.id} left {job.state} behind the runner's back")
        return moved

    async def _move(self, job: Job, state: JobState, **fields: object) -> Job:
        """Write a transition before acting on it (one statement, conditional on the lease and the state)."""
        async with self._storage.autocommit() as tx:
            moved = await tx.jobs.update(job.id, self._clock(), only_from=[job.state], state=state, **fields)
        if moved is None:
            raise RuntimeError(f"job {job.id} left {job.state} behind the runner's back")
        return moved
