"""The job lifecycle (DESIGN.md): durable, resumable, and reporting to a sink that knows the audience.

Every transition is written to the database before it is acted on, so a job found at start can be
carried on from where it stopped: a job found in ``submitting`` may have been billed and is never
sent twice; a job found in ``delivering`` with a result on its way is checked with the sink before it
is posted again. A submit abandoned in flight, whatever abandons it, is settled as interrupted and
charged. `JobRunner` also keeps the caps: a few jobs per member in flight, a bounded local queue behind
them, and a global limit on jobs polled at once. A runner serves the jobs of one sink (`JobOrigin`) and
never touches another's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from bot.aio import to_the_end
from bot.clock import Clock, utc_now
from bot.errors import (
    PixazoAuthError,
    PixazoBalanceError,
    PixazoError,
    PixazoNotFoundError,
    PixazoTransientError,
    PromptBlockedError,
    ServiceUnavailableError,
)
from bot.jobs.admission import admit
from bot.jobs.policy import failure_kind, poll_interval
from bot.jobs.scheduler import Scheduler
from bot.jobs.settings import RunnerSettings
from bot.jobs.sink import DeliveryError, JobSink
from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.models import (
    Delivery,
    DownloadedImage,
    FailureKind,
    GenerationRequest,
    Job,
    JobOrigin,
    JobRequest,
    JobState,
    PendingInteraction,
    ReportSource,
    UpstreamState,
    UpstreamStatus,
)
from bot.moderation import Failure, Moderation
from bot.money import Money
from bot.pixazo import PixazoClient
from bot.progress import Progress, QueueWatch, Stage
from bot.servers import Servers
from bot.storage import Storage

log = logging.getLogger(__name__)

_NOT_FINAL = tuple(state for state in JobState if not state.final)


class JobRunner:
    def __init__(
        self,
        storage: Storage,
        ledger: Ledger,
        servers: Servers,
        moderation: Moderation,
        pixazo: PixazoClient,
        sink: JobSink,
        settings: RunnerSettings,
        *,
        clock: Clock,
        metrics: Metrics,
        origin: JobOrigin,
    ) -> None:
        self._storage = storage
        self._ledger = ledger
        self._servers = servers
        self._moderation = moderation
        self._metrics = metrics
        self._pixazo = pixazo
        self._sink = sink
        self.settings = settings
        self._clock = clock
        self._origin = origin
        self._scheduler = Scheduler(
            member_max=self.settings.member_max_jobs,
            global_max=self.settings.max_active_jobs,
            run=self._run,
            waiting_moved=lambda job, place: self._chore(self._progress(job, Progress(Stage.WAITING, position=place))),
            counts=self._metrics.jobs_in_flight,
            wait_limit=self.settings.queue_timeout_seconds,
            expired=lambda job: self._chore(
                self._fail(job.id, FailureKind.WAITED, "waited too long in the bot's own queue")
            ),
            clock=clock,
        )
        self._chores: set[asyncio.Task[None]] = set()
        self._endings: dict[int, asyncio.Event] = {}  # set once a job has ended and its member was told
        self._hand_offs: dict[int, asyncio.TimerHandle] = {}
        self._started_at = clock()
        self._closing = False

    # --- taking work ----------------------------------------------------------------------------

    async def submit(self, request: JobRequest, delivery: Delivery) -> Job:
        """Check the channel, the member's caps and budgets; reserve the cost and record the job.

        Raises the `BotError` that says why not. Nothing is sent to Pixazo here: the job starts
        as soon as the caps allow.
        """
        if self._closing:
            raise RuntimeError("the runner is shutting down")
        if not await self._pixazo.available():
            raise ServiceUnavailableError()
        try:
            job = await admit(
                self._storage,
                self._ledger,
                self._moderation,
                request,
                delivery,
                queue_limit=self.settings.member_max_jobs + self.settings.member_queue_size,
                now=self._clock(),
                origin=self._origin,
            )
        except PromptBlockedError as refusal:
            await self._sink.reported(Failure(refusal.report, refusal.auto_block))  # like a safety failure
            raise
        log.info("job %s: %s images reserved for member %s", job.id, job.request.count, job.member_id)
        log.debug("job %s: prompt %r", job.id, job.request.prompt)
        self._track(job)
        self._scheduler.queue(job)
        return job

    async def start(self) -> None:
        """Resume this sink's unfinished jobs, tell members about endings they missed while the process was
        down, and answer interactions that were acknowledged but never became a job."""
        async with self._storage.transaction() as tx:
            unfinished = await tx.jobs.unfinished(self._origin)
            unnotified = await tx.jobs.unnotified(self._origin)
            never_started = await tx.jobs.pending_interactions(before=self._started_at)
        for job in unfinished:
            self._track(job)
            if job.state is JobState.RESERVED:
                self._scheduler.queue(job)
            else:
                self._scheduler.run_now(job)
        for job in unnotified:
            self._chore(self._notify_failure(job))
        for pending in never_started:
            self._chore(self._answer_never_started(pending))
        if unfinished or unnotified or never_started:
            log.info(
                "resumed %d unfinished jobs; %d endings and %d requests that never started to announce",
                len(unfinished),
                len(unnotified),
                len(never_started),
            )

    async def settle_abandoned(self) -> None:
        """End every unfinished job of this sink that nobody will carry on (a terminal run that was stopped):
        charged if Pixazo may have it, released if it was never sent."""
        async with self._storage.transaction() as tx:
            unfinished = await tx.jobs.unfinished(self._origin)
        for job in unfinished:
            sent = job.state is not JobState.RESERVED
            log.info("job %s was stopped before it finished; %s", job.id, "charged" if sent else "released")
            await self._fail(job.id, FailureKind.ABANDONED, "stopped before it finished", charge=sent)

    async def job(self, job_id: int) -> Job | None:
        async with self._storage.transaction() as tx:
            return await tx.jobs.get(job_id)

    async def wait(self, job_id: int) -> Job:
        """The job once it has ended and its member was told."""
        await self._endings.setdefault(job_id, asyncio.Event()).wait()
        async with self._storage.transaction() as tx:
            job = await tx.jobs.get(job_id)
        assert job is not None
        return job

    async def remember_interaction(self, pending: PendingInteraction) -> None:
        """Record an interaction being acknowledged, so a restart can answer it if it never gets a job."""
        async with self._storage.transaction() as tx:
            await tx.jobs.remember_interaction(pending)

    async def forget_interaction(self, interaction_id: int) -> None:
        """The interaction was answered (refused, or its deferral failed): a restart owes it nothing."""
        async with self._storage.transaction() as tx:
            await tx.jobs.forget_interaction(interaction_id)

    async def close(self) -> None:
        """Stop taking work and cancel what runs; jobs stay where they are and resume on the next start."""
        self._closing = True
        for timer in self._hand_offs.values():
            timer.cancel()
        await self._scheduler.close()
        chores = list(self._chores)
        for task in chores:
            task.cancel()
        await asyncio.gather(*chores, return_exceptions=True)

    def local_position(self, job_id: int) -> int | None:
        """1 for the next job to leave the bot's own queue; None when the job is not waiting."""
        return self._scheduler.position(job_id)

    @property
    def active_count(self) -> int:
        return self._scheduler.running

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a small piece of work (a progress edit, a late notice) in a task the runner owns."""
        task = asyncio.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _track(self, job: Job) -> None:
        """Watch a job that is starting or resuming: its ending, and when its interaction token runs out."""
        self._endings.setdefault(job.id, asyncio.Event())
        delivery = job.delivery
        if delivery.interaction_token is None or delivery.token_expires_at is None or delivery.channel_message_id:
            return
        due = delivery.token_expires_at - timedelta(seconds=self.settings.hand_off_margin_seconds)
        delay = (due - utc_now()).total_seconds()  # Discord's clock, not the ledger's (which tests may move)
        loop = asyncio.get_running_loop()
        self._hand_offs[job.id] = loop.call_later(max(0.0, delay), lambda: self._chore(self._hand_off(job.id)))

    def _ended(self, job_id: int) -> None:
        timer = self._hand_offs.pop(job_id, None)
        if timer is not None:
            timer.cancel()
        self._endings.setdefault(job_id, asyncio.Event()).set()

    # --- one job --------------------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        try:
            if job.state is JobState.SUBMITTING:
                # Found at start: the submit may have reached Pixazo. Never send it twice.
                await self._fail(job.id, FailureKind.INTERRUPTED, "interrupted during submit", charge=True)
                return
            if job.state is JobState.DELIVERING and job.images_posting is not None:
                # Its result was being posted when the process stopped: what is on record says if it arrived.
                shown = await self._sink.delivered_images(job)
                if shown != 0:
                    await self._finish_delivered(job, job.images_posting if shown is None else shown)
                    return
            ended = await self._until_done_upstream(job)
            if ended is not None:
                await self._conclude(*ended)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: unexpected error", job.id)
            await self._fail(job.id, FailureKind.UPSTREAM, "internal error")

    async def _until_done_upstream(self, job: Job) -> tuple[Job, UpstreamStatus] | None:
        """Submit (if not yet) and poll until Pixazo says it ended, within the job's render deadline.

        The deadline runs from when the job was sent: time in the bot's own queue does not count.
        """
        sent_at = job.sent_at or self._clock()
        remaining = (sent_at + timedelta(seconds=self.settings.job_timeout_seconds) - self._clock()).total_seconds()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                if job.state is JobState.RESERVED:
                    submitted = await self._submit(job, sent_at)
                    if submitted is None:
                        return None
                    job = submitted
                return await self._poll(job)
        except TimeoutError:
            await self._fail(job.id, FailureKind.TIMEOUT, "timed out")  # a submit cut off was settled already
            return None

    async def _submit(self, job: Job, sent_at: datetime) -> Job | None:
        await self._progress(job, Progress(Stage.SUBMITTING))
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
                    num_inference_steps=self.settings.inference_steps,
                )
            )
        except asyncio.CancelledError:
            # A deadline, a shutdown or a terminal's Ctrl-C cut the call off: Pixazo may have the job and bill it.
            log.warning("job %s: submit abandoned in flight; counting it as billed", job.id)
            await to_the_end(self._fail(job.id, FailureKind.INTERRUPTED, "stopped while being sent", charge=True))
            raise
        except PixazoTransientError as exc:
            if exc.request_may_have_arrived:
                log.warning("job %s: submit interrupted (%s); counting it as billed", job.id, exc)
                await self._fail(job.id, FailureKind.INTERRUPTED, str(exc), charge=True)
            else:
                await self._fail(job.id, FailureKind.UPSTREAM, str(exc))
            return None
        except PixazoError as exc:
            await self._fail(job.id, failure_kind(exc), str(exc))
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
                await self._fail(job.id, failure_kind(exc), str(exc))
                return None
            except PixazoError as exc:
                errors += 1
                if errors >= self.settings.max_poll_errors:
                    await self._fail(job.id, failure_kind(exc), str(exc))
                    return None
                log.warning("job %s: polling failed (%s); %d in a row", job.id, exc, errors)
                await asyncio.sleep(self.settings.poll_max_seconds)
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
                await self._progress(job, progress)
            await asyncio.sleep(poll_interval(status, self.settings))

    async def _conclude(self, job: Job, status: UpstreamStatus) -> None:
        if status.state is UpstreamState.FAILED:
            if status.safety:
                charged = (await self._servers.settings(job.guild_id)).safety_charged
                await self._fail(job.id, FailureKind.SAFETY, status.reason or "safety check", charge=charged)
            else:
                await self._fail(job.id, FailureKind.UPSTREAM, status.reason or "failed upstream")
            return
        await self._deliver(job, status)

    async def _deliver(self, job: Job, status: UpstreamStatus) -> None:
        await self._progress(job, Progress(Stage.DELIVERING))
        images: list[DownloadedImage] = []
        for image in status.images[: job.request.count]:
            try:
                images.append(await self._pixazo.download(image.url, self.settings.max_image_bytes))
            except PixazoError as exc:
                log.warning("job %s: an image could not be fetched: %s", job.id, exc)
        if not images:
            reason = "no images in the result" if not status.images else "images could not be fetched"
            await self._fail(job.id, FailureKind.DELIVERY, reason)
            return
        # written before the post, as every transition: a restart then asks the sink what arrived
        job = await self._move(job, JobState.DELIVERING, queue_position=None, images_posting=len(images))
        usage = await self._ledger.usage_once_charged(job, len(images))
        try:
            await self._sink.deliver(job, images, usage)
        except DeliveryError as exc:
            log.warning("job %s: the result could not be posted: %s", job.id, exc)
            await self._fail(job.id, FailureKind.DELIVERY, str(exc))
            return
        await self._finish_delivered(job, len(images))

    async def _finish_delivered(self, job: Job, images: int) -> None:
        now = self._clock()
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
        log.info("job %s: delivered %d images", job.id, images)
        self._metrics.job_ended(JobState.DELIVERED.value, images, job.unit_price * images)
        self._ended(job.id)

    # --- endings and bookkeeping ----------------------------------------------------------------

    async def _fail(self, job_id: int, kind: FailureKind, reason: str, *, charge: bool = False) -> None:
        """End a job as failed: settle its money, store a safety report if it was one, tell the member."""
        now = self._clock()
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
        self._metrics.job_ended(JobState.FAILED.value, 0, job.cost if charge else Money.zero())
        level = logging.ERROR if kind is FailureKind.BALANCE else logging.INFO
        log.log(level, "job %s: failed (%s): %s", job.id, kind.value, reason)
        await self._notify_failure(job)
        self._ended(job.id)
        if failure is not None:
            await self._sink.reported(failure)

    async def _notify_failure(self, job: Job) -> None:
        charged = job.reservation_id is not None and await self._ledger.is_charged(job.reservation_id)
        try:
            usage = await self._ledger.usage(job.guild_id, job.member_id, job.request.role_ids)
            await self._sink.fail(job, charged=charged, usage=usage)
        except DeliveryError as exc:
            log.warning("job %s: the member could not be told it failed: %s", job.id, exc)
        async with self._storage.transaction() as tx:
            await tx.jobs.update(job.id, self._clock(), notified=True, interaction_token=None)

    async def _move(self, job: Job, state: JobState, **fields: object) -> Job:
        """Write a transition before acting on it."""
        async with self._storage.transaction() as tx:
            moved = await tx.jobs.update(job.id, self._clock(), only_from=[job.state], state=state, **fields)
        if moved is None:
            raise RuntimeError(f"job {job.id} left {job.state} behind the runner's back")
        return moved

    async def _hand_off(self, job_id: int) -> None:
        """Move a job's progress to a channel message before its interaction token expires, wherever it is."""
        self._hand_offs.pop(job_id, None)
        async with self._storage.transaction() as tx:
            job = await tx.jobs.get(job_id)
        if job is None or job.state.final or job.delivery.channel_message_id or job.delivery.interaction_token is None:
            return
        try:
            message_id = await self._sink.hand_off(job)  # the sink records the new message as soon as it has it
        except DeliveryError as exc:
            log.warning("job %s: progress could not move to a channel message: %s", job.id, exc)
            return
        async with self._storage.transaction() as tx:  # the sink recorded the message already; this keeps in step
            await tx.jobs.update(job.id, self._clock(), interaction_token=None, channel_message_id=message_id)
        log.info("job %s: handed off from the interaction token to message %s", job.id, message_id)

    async def _answer_never_started(self, pending: PendingInteraction) -> None:
        try:
            await self._sink.never_started(pending)
        except DeliveryError as exc:
            log.info("interaction %s: the member could not be told it never started: %s", pending.id, exc)
        await self.forget_interaction(pending.id)

    async def _progress(self, job: Job, progress: Progress) -> None:
        try:
            await self._sink.progress(job, progress)
        except DeliveryError as exc:
            log.warning("job %s: progress could not be shown: %s", job.id, exc)
