"""The job engine of one sink: takes requests in, keeps the caps, resumes what a stopped process left, and
hands each job to its `Lifecycle`.

A runner serves the jobs of one sink (`JobOrigin`) and never touches another's, and only those it holds a
lease on (`LeaseKeeper`): the jobs it takes in, and those it takes over from processes that stopped, at
start or while it runs. It keeps the caps: a few
jobs per member in flight, a bounded local queue behind them, and the deployment's limit on jobs at Pixazo.
It also moves every job with an interaction token to a channel message before that token expires,
whether the job is at Pixazo or still waiting in the bot's own queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from bot.clock import Clock, utc_now
from bot.errors import LeaseLostError, PromptBlockedError, ServiceUnavailableError
from bot.jobs.admission import admit
from bot.jobs.cancel import cancel
from bot.jobs.endings import Endings
from bot.jobs.leases import LeaseKeeper, TakenOver
from bot.jobs.lifecycle import Lifecycle
from bot.jobs.planner import QueueModel
from bot.jobs.scheduler import Scheduler
from bot.jobs.settings import RunnerSettings
from bot.jobs.sink import DeliveryError, JobSink
from bot.jobs.wakes import Wakes
from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.models import Delivery, FailureKind, Job, JobOrigin, JobRequest, JobState, PendingInteraction
from bot.moderation import Failure, Moderation
from bot.pixazo import PixazoClient
from bot.pixazo.capacity import Capacity
from bot.progress import Progress, Stage
from bot.servers import Servers
from bot.storage import Storage
from bot.webhooks import WebhookUrls

log = logging.getLogger(__name__)


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
        webhooks: WebhookUrls | None,
        wakes: Wakes,
    ) -> None:
        self._storage = storage
        self._ledger = ledger
        self._moderation = moderation
        self._pixazo = pixazo
        self._sink = sink
        self.settings = settings
        self._clock = clock
        self._origin = origin
        self._endings = Endings(storage, ledger, moderation, sink, clock=clock, metrics=metrics, on_end=self._ended)
        self._wakes = wakes
        self.capacity = Capacity(settings.max_active_jobs, on_change=lambda: self._scheduler.pump())
        self._lifecycle = Lifecycle(
            storage,
            ledger,
            servers,
            pixazo,
            sink,
            self._endings,
            settings,
            clock=clock,
            model=QueueModel(settings.poll_min_seconds, settings.poll_max_seconds),
            wakes=self._wakes,
            capacity=self.capacity,
            requeue=lambda job: self._scheduler.queue(job),
            running_here=lambda: self._scheduler.running,
            webhooks=webhooks,
        )
        self._scheduler = Scheduler(
            member_max=settings.member_max_jobs,
            capacity=self.capacity,
            run=self._lifecycle.run,
            waiting_moved=lambda job, place: self._chore(
                self._lifecycle.show(job, Progress(Stage.WAITING, position=place))
            ),
            counts=metrics.jobs_in_flight,
            wait_limit=settings.queue_timeout_seconds,
            expired=lambda job: self._chore(
                self._endings.fail(job.id, FailureKind.WAITED, "waited too long in the bot's own queue")
            ),
            clock=clock,
        )
        self._chores: set[asyncio.Task[None]] = set()
        self._hand_offs: dict[int, asyncio.TimerHandle] = {}
        self._closing = False
        self._leases = LeaseKeeper(
            storage,
            origin,
            took=self._carry_on,
            working=self._scheduler.job_ids,
            lost=self._let_go,
            processes=pixazo.throttle.share,
        )
        self._heartbeat: asyncio.Task[None] | None = None

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

    async def cancel(self, job_id: int, *, by: int, guild_id: int, manages_messages: bool) -> Job:
        """Cancel a job not yet sent, whichever process holds it, releasing its reservation, and forget it here: the
        member's next waiting job moves up. Raises the `BotError` that says why not (see `bot.jobs.cancel`)."""
        job = await cancel(
            self._storage,
            self._ledger,
            job_id,
            by=by,
            guild_id=guild_id,
            manages_messages=manages_messages,
            now=self._clock(),
        )
        self._scheduler.drop(job.id)  # a holder elsewhere lets go when it tries to send it
        self._endings.cancelled(job)
        return job

    async def start(self) -> None:
        """Take over the work nobody holds (a stopped process's unfinished jobs, endings it never announced,
        interactions acknowledged that never became a job) and keep doing so while the runner runs."""
        taken = await self._leases.take_over()
        self._heartbeat = asyncio.create_task(self._leases.run(), name="job-leases")
        if taken:
            log.info(
                "resumed %d jobs; %d requests that never started to answer",
                len(taken.jobs),
                len(taken.interactions),
            )

    async def settle_abandoned(self) -> None:
        """End every unfinished job of this sink that nobody will carry on (a terminal run that was stopped):
        charged if Pixazo may have it, released if it was never sent."""
        leases = LeaseKeeper(self._storage, self._origin, took=lambda _: None, working=set, lost=lambda _: None)
        for job in (await leases.take_over()).jobs:
            if job.state.final:
                await self._endings.notify(job)
                continue
            sent = job.state is not JobState.RESERVED
            log.info("job %s was stopped before it finished; %s", job.id, "charged" if sent else "released")
            await self._endings.fail(job.id, FailureKind.ABANDONED, "stopped before it finished", charge=sent)

    async def job(self, job_id: int) -> Job | None:
        async with self._storage.reading() as tx:
            return await tx.jobs.get(job_id)

    async def wait(self, job_id: int) -> Job:
        """The job once it has ended and its member was told."""
        await self._endings.wait(job_id)
        job = await self.job(job_id)
        assert job is not None
        return job

    async def remember_interaction(self, pending: PendingInteraction) -> None:
        """Record an interaction being acknowledged, so a restart can answer it if it never gets a job."""
        async with self._storage.autocommit() as tx:
            await tx.interactions.remember(pending)

    async def forget_interaction(self, interaction_id: int) -> None:
        """The interaction was answered (refused, or its deferral failed): a restart owes it nothing."""
        async with self._storage.autocommit() as tx:
            await tx.interactions.forget(interaction_id)

    async def close(self) -> None:
        """Stop taking work and cancel what runs; jobs stay where they are, and their leases are let go so that
        another process (or the next start) carries them on at once."""
        self._closing = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        for timer in self._hand_offs.values():
            timer.cancel()
        await self._scheduler.close()
        chores = list(self._chores)
        for task in chores:
            task.cancel()
        await asyncio.gather(*chores, return_exceptions=True)
        await self._leases.let_go()

    def wake(self, job_id: int) -> bool:
        """Pixazo called back for this job: ask it for the result at once (at most once a second a job)."""
        return self._wakes.wake(job_id)

    def local_position(self, job_id: int) -> int | None:
        """1 for the next job to leave the bot's own queue; None when the job is not waiting."""
        return self._scheduler.position(job_id)

    @property
    def active_count(self) -> int:
        return self._scheduler.running

    def _carry_on(self, taken: TakenOver) -> None:
        """Work on jobs this process has just taken: resume them, or announce how they ended."""
        running = self._scheduler.job_ids()
        for job in taken.jobs:
            if job.id in running:
                continue
            if job.state.final:
                self._chore(self._endings.notify(job))
                continue
            self._track(job)
            if job.state is JobState.RESERVED:
                self._scheduler.queue(job)
            else:
                self._scheduler.run_now(job)
        for pending in taken.interactions:
            self._chore(self._answer_never_started(pending))

    def _let_go(self, job_ids: set[int]) -> None:
        """Another process holds these jobs now, or cancelled them: stop working on them, touch nothing of theirs."""
        for job_id in job_ids:
            self._scheduler.drop(job_id)
            self._ended(job_id)

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a small piece of work (a progress edit, a late notice) in a task the runner owns."""
        task = asyncio.create_task(_unless_taken_over(work))
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _track(self, job: Job) -> None:
        """Watch a job that is starting or resuming: when its interaction token runs out, move it."""
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

    async def _hand_off(self, job_id: int) -> None:
        """Move a job's progress to a channel message before its interaction token expires, wherever it is."""
        self._hand_offs.pop(job_id, None)
        async with self._storage.reading() as tx:
            job = await tx.jobs.get(job_id)
        if job is None or job.state.final or job.delivery.channel_message_id or job.delivery.interaction_token is None:
            return
        try:
            message_id = await self._sink.hand_off(job)  # the sink records the new message as soon as it has it
        except DeliveryError as exc:
            log.warning("job %s: progress could not move to a channel message: %s", job.id, exc)
            return
        async with self._storage.autocommit() as tx:  # the sink recorded the message already; this keeps in step
            await tx.jobs.update(job.id, self._clock(), interaction_token=None, channel_message_id=message_id)
        log.info("job %s: handed off from the interaction token to message %s", job.id, message_id)

    async def _answer_never_started(self, pending: PendingInteraction) -> None:
        try:
            await self._sink.never_started(pending)
        except DeliveryError as exc:
            log.info("interaction %s: the member could not be told it never started: %s", pending.id, exc)
        await self.forget_interaction(pending.id)


async def _unless_taken_over(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except LeaseLostError as lost:
        log.info("job %s: another process carries it on now; this one leaves it", lost.job_id)
