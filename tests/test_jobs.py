"""The job runner against the real simulator and real SQLite, with a sink that records what it is told."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.clock import utc_now
from bot.config import Config, Secret
from bot.errors import ChannelNotAllowedError, TooManyJobsError
from bot.jobs import DeliveryError, JobRunner, RunnerSettings
from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.models import (
    Delivery,
    FailureKind,
    Job,
    JobOrigin,
    JobRequest,
    JobState,
    PendingInteraction,
    ReportSource,
    Usage,
)
from bot.moderation import Failure
from bot.money import Money
from bot.pixazo import DownloadedImage
from bot.progress import Progress, Stage
from bot.services import wire
from bot.simulator import Endpoint, Fault, FaultKind, Simulator, SimulatorSettings
from bot.storage import DEFAULT_LEASE_SECONDS, Storage, open_storage
from tests.conftest import FAST_RETRY, TEST_KEY, Serve
from tests.harness import DISCORD_TOKEN
from tests.rows import leave_as_crashed

GUILD, CHANNEL, ALICE, BOB = 100, 200, 1, 2
FAST = RunnerSettings(poll_min_seconds=0.02, poll_max_seconds=0.1, max_poll_errors=3)


@dataclass
class RecordingSink:
    """A sink that keeps everything it is told, so tests can read the member's view."""

    progress_seen: list[tuple[int, Progress]] = field(default_factory=list)
    delivered: dict[int, list[DownloadedImage]] = field(default_factory=dict)
    usage_shown: dict[int, Usage] = field(default_factory=dict)
    failures: dict[int, tuple[Job, bool]] = field(default_factory=dict)
    handed_off: list[int] = field(default_factory=list)
    already_shown: dict[int, int] = field(default_factory=dict)
    reports: list[Failure] = field(default_factory=list)
    never: list[PendingInteraction] = field(default_factory=list)
    told: list[int] = field(default_factory=list)  # every failure notice, in order
    refuse_delivery: bool = False
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def progress(self, job: Job, progress: Progress) -> None:
        self.progress_seen.append((job.id, progress))

    async def hand_off(self, job: Job) -> int | None:
        self.handed_off.append(job.id)
        return 4242

    async def deliver(self, job: Job, images: Sequence[DownloadedImage], usage: Usage) -> None:
        if self.refuse_delivery:
            raise DeliveryError("Missing Permissions")
        assert job.id not in self.delivered, "delivered twice"
        self.delivered[job.id] = list(images)
        self.usage_shown[job.id] = usage
        self.finished.set()

    async def delivered_images(self, job: Job) -> int | None:
        return self.already_shown.get(job.id, 0)

    async def never_started(self, pending: PendingInteraction) -> None:
        self.never.append(pending)

    async def fail(self, job: Job, *, charged: bool, usage: Usage) -> None:
        self.failures[job.id] = (job, charged)
        self.told.append(job.id)
        self.finished.set()

    async def reported(self, failure: Failure) -> None:
        self.reports.append(failure)

    def stages(self, job_id: int) -> list[Stage]:
        return [progress.stage for seen_id, progress in self.progress_seen if seen_id == job_id]


class World:
    """A runner wired to a simulator and a database file, restartable on the same file."""

    def __init__(
        self,
        database_url: str,
        http: aiohttp.ClientSession,
        sim_url: str,
        simulator: Simulator,
        settings: RunnerSettings,
        *,
        timeout: float = 5.0,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.database_url = database_url
        self.lease_seconds = lease_seconds
        self.http = http
        self.config = dataclasses.replace(
            Config(discord_token=Secret(DISCORD_TOKEN), pixazo_api_key=Secret(TEST_KEY)),
            pixazo_base_url=sim_url,
            pixazo_timeout_seconds=timeout,
            database_url=self.database_url,
        )
        self.simulator = simulator
        self.settings = settings
        self.sink = RecordingSink()
        self.metrics = Metrics()
        self.storage: Storage
        self.ledger: Ledger
        self.runner: JobRunner

    async def start(self, sink: RecordingSink | None = None) -> None:
        self.sink = sink or RecordingSink()
        self.storage = await open_storage(self.database_url, lease_seconds=self.lease_seconds)
        services = wire(
            self.config, http=self.http, storage=self.storage, clock=utc_now, metrics=self.metrics, retry=FAST_RETRY
        )
        self.services = dataclasses.replace(services, runner_settings=self.settings)
        services = self.services
        self.ledger = services.ledger
        self.runner = services.runner(self.sink, JobOrigin.DISCORD)
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.close()
        await self.storage.close()

    async def submit(
        self, prompt: str = "a red fox", member: int = ALICE, count: int = 1, delivery: Delivery | None = None
    ) -> Job:
        request = JobRequest(GUILD, CHANNEL, member, prompt, "square", "square_1_1", count=count)
        return await self.runner.submit(request, delivery or Delivery())

    async def job(self, job_id: int) -> Job:
        async with self.storage.transaction() as tx:
            job = await tx.jobs.get(job_id)
        assert job is not None
        return job

    async def until_final(self, job_id: int, timeout: float = 10) -> Job:
        async with asyncio.timeout(timeout):
            while not (job := await self.job(job_id)).state.final or not job.notified:
                await asyncio.sleep(0.02)
        return job


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.15, queue_depth=3)


@pytest.fixture
async def world(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> AsyncIterator[World]:
    world = World(bot_database, http, sim_url, simulator, FAST)
    await world.start()
    yield world
    await world.stop()


async def test_a_job_walks_the_queue_and_is_delivered_and_charged_once(world: World) -> None:
    job = await world.submit()
    done = await world.until_final(job.id)
    assert done.state is JobState.DELIVERED and done.images_delivered == 1
    stages = world.sink.stages(job.id)
    assert stages[0] is Stage.SUBMITTING and stages[-1] is Stage.DELIVERING
    assert Stage.QUEUED in stages and Stage.RENDERING in stages
    seen = [p for i, p in world.sink.progress_seen if i == job.id and p.stage is Stage.QUEUED]
    positions = [p.position for p in seen if p.position is not None]  # (the first, as it is sent, has none yet)
    assert positions == sorted(positions, reverse=True) and positions[-1] == 1
    (image,) = world.sink.delivered[job.id]
    assert image.data == world.simulator.images_of(done.request_id or "")[0]
    usage = await world.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved, usage.images) == (Money(8_000), Money(0), 1)
    assert world.sink.usage_shown[job.id] == usage  # what the result said is what the ledger holds
    assert world.simulator.count(Endpoint.SUBMIT) == 1


async def test_four_images_are_delivered_and_cost_four_times_as_much(world: World) -> None:
    job = await world.submit(count=4)
    done = await world.until_final(job.id)
    assert len(world.sink.delivered[job.id]) == 4 == done.images_delivered
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(32_000)


async def test_a_safety_failure_stores_a_report_and_charges_nothing(world: World) -> None:
    job = await world.submit("something forbidden")
    done = await world.until_final(job.id)
    assert (done.state, done.failure_kind) == (JobState.FAILED, FailureKind.SAFETY)
    assert world.sink.failures[job.id][1] is False
    async with world.storage.transaction() as tx:
        (report,) = await tx.moderation.reports(GUILD)
    assert (report.job_id, report.source, report.prompt) == (job.id, ReportSource.SAFETY, "something forbidden")
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(0)


async def test_a_server_that_charges_safety_failures_is_charged(world: World) -> None:
    async with world.storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, datetime.now(UTC), safety_charged=True)
    job = await world.submit("something forbidden")
    await world.until_final(job.id)
    assert world.sink.failures[job.id][1] is True
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(8_000)


async def test_an_exhausted_balance_releases_the_money_and_tells_the_operator(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=402))
    job = await world.submit()
    done = await world.until_final(job.id)
    assert done.failure_kind is FailureKind.BALANCE
    assert any(r.levelno == logging.ERROR and "balance" in r.getMessage() for r in caplog.records)
    usage = await world.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved) == (Money(0), Money(0))


async def test_a_500_storm_while_polling_fails_the_job_and_releases_it(world: World) -> None:
    job = await world.submit()
    async with asyncio.timeout(5):
        while (await world.job(job.id)).request_id is None:  # submitted: from here on only polls reach Pixazo
            await asyncio.sleep(0.01)
    world.simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=500), times=1000)
    done = await world.until_final(job.id)
    assert done.failure_kind is FailureKind.UPSTREAM
    assert (await world.ledger.usage(GUILD, ALICE)).reserved == Money(0)
    world.simulator.clear_faults()


async def test_rate_limits_then_success_still_deliver(world: World) -> None:
    world.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=429, retry_after=0.05), times=2)
    world.simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=429, retry_after=0.05), times=2)
    job = await world.submit()
    assert (await world.until_final(job.id)).state is JobState.DELIVERED


async def test_a_submit_whose_answer_never_came_is_charged_and_never_resent(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    world = World(bot_database, http, sim_url, simulator, FAST, timeout=0.2)
    await world.start()
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.SLOW, delay=0.5))
    job = await world.submit()
    done = await world.until_final(job.id)
    assert (done.failure_kind, world.sink.failures[job.id][1]) == (FailureKind.INTERRUPTED, True)
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(8_000)
    async with asyncio.timeout(5):
        while world.runner.active_count:  # once nothing runs for the job, no submit can follow
            await asyncio.sleep(0.01)
    assert simulator.count(Endpoint.SUBMIT) == 1
    await world.stop()


async def test_a_job_found_mid_submit_at_start_is_charged_and_not_sent(world: World) -> None:
    job = await world.submit()
    await world.stop()
    # It died inside the submit call.
    await leave_as_crashed(world.database_url, job.id, JobState.SUBMITTING, request_id=None)
    submits = world.simulator.count(Endpoint.SUBMIT)
    await world.start()
    done = await world.until_final(job.id)
    assert done.failure_kind is FailureKind.INTERRUPTED
    assert world.simulator.count(Endpoint.SUBMIT) == submits
    assert world.sink.failures[job.id][1] is True


async def test_a_job_queued_when_the_bot_stops_is_delivered_exactly_once_after_restart(
    bot_database: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.3, queue_depth=3))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    world = World(bot_database, http, base, simulator, FAST)
    await world.start()
    job = await world.submit()
    async with asyncio.timeout(5):
        while (await world.job(job.id)).state is not JobState.QUEUED:
            await asyncio.sleep(0.02)
    first_sink = world.sink
    await world.stop()
    await world.start()
    done = await world.until_final(job.id)
    assert done.state is JobState.DELIVERED
    assert job.id not in first_sink.delivered and len(world.sink.delivered[job.id]) == 1
    assert simulator.count(Endpoint.SUBMIT) == 1
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(8_000)
    await world.stop()


async def test_a_job_posted_just_before_a_crash_is_not_posted_again(world: World) -> None:
    job = await world.submit()
    await world.until_final(job.id)
    await world.stop()
    # It died between posting and recording.
    await leave_as_crashed(world.database_url, job.id, JobState.DELIVERING, notified=False)
    sink = RecordingSink(already_shown={job.id: 1})
    await world.start(sink)
    done = await world.until_final(job.id)
    assert done.state is JobState.DELIVERED and job.id not in sink.delivered


async def test_the_member_cap_and_local_queue_hold_the_rest_and_refuse_beyond(
    bot_database: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.2, concurrency=10))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    world = World(bot_database, http, base, simulator, FAST)
    await world.start()
    jobs = [await world.submit(f"fox {i}") for i in range(5)]
    with pytest.raises(TooManyJobsError, match="5 images"):
        await world.submit("one too many")
    assert world.runner.active_count == 2
    assert [world.runner.local_position(job.id) for job in jobs] == [None, None, 1, 2, 3]

    def waiting() -> list[int | None]:
        return [p.position for i, p in world.sink.progress_seen if i == jobs[4].id and p.stage is Stage.WAITING]

    async with asyncio.timeout(5):
        while not waiting():  # told by a chore of the runner's
            await asyncio.sleep(0.01)
    assert waiting()[0] == 3
    bob = await world.submit("bob's fox", member=BOB)  # another member is not held up by Alice's queue
    assert world.runner.local_position(bob.id) is None
    for job in [*jobs, bob]:
        assert (await world.until_final(job.id)).state is JobState.DELIVERED
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(40_000)
    await world.stop()


async def test_a_job_that_outlives_its_time_limit_fails_as_timed_out_and_is_released(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    settings = RunnerSettings(poll_min_seconds=0.02, job_timeout_seconds=0.1)
    world = World(bot_database, http, sim_url, simulator, settings)
    await world.start()
    job = await world.submit()
    done = await world.until_final(job.id)
    assert (done.failure_kind, done.failure_reason) == (FailureKind.TIMEOUT, "timed out")
    assert (await world.ledger.usage(GUILD, ALICE)).reserved == Money(0)
    await world.stop()


async def test_progress_moves_to_a_channel_message_before_the_token_expires(world: World) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=30)  # inside the 60 s margin already
    job = await world.submit(delivery=Delivery(application_id=1, interaction_token="tok", token_expires_at=expires))
    done = await world.until_final(job.id)
    assert world.sink.handed_off == [job.id]
    assert done.delivery.channel_message_id == 4242 and done.delivery.interaction_token is None


async def test_a_result_that_cannot_be_posted_is_released(world: World) -> None:
    world.sink.refuse_delivery = True
    job = await world.submit()
    done = await world.until_final(job.id)
    assert done.failure_kind is FailureKind.DELIVERY
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(0)


@pytest.mark.parametrize("fault", [FaultKind.EMPTY_RESULT, FaultKind.SYSTEM_ERROR])
async def test_an_empty_or_errored_result_fails_and_releases(world: World, fault: FaultKind) -> None:
    world.simulator.inject(Endpoint.RESULT, Fault(fault))
    job = await world.submit()
    done = await world.until_final(job.id)
    assert done.state is JobState.FAILED
    assert (await world.ledger.usage(GUILD, ALICE)).reserved == Money(0)


async def test_images_that_404_fail_the_job_and_release_it(world: World) -> None:
    world.simulator.inject(Endpoint.IMAGE, Fault(FaultKind.STATUS, status=404), times=10)
    job = await world.submit()
    done = await world.until_final(job.id)
    assert done.failure_kind is FailureKind.DELIVERY
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(0)


async def test_a_channel_where_imagine_is_not_allowed_is_refused_before_money_moves(world: World) -> None:
    async with world.storage.transaction() as tx:
        await tx.guilds.allow_channel(GUILD, 999)
    with pytest.raises(ChannelNotAllowedError):
        await world.submit()
    assert (await world.ledger.usage(GUILD, ALICE)).reserved == Money(0)


async def test_polls_that_time_out_are_retried_and_the_job_is_delivered(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    world = World(bot_database, http, sim_url, simulator, FAST, timeout=0.2)
    await world.start()
    job = await world.submit()
    simulator.inject(Endpoint.RESULT, Fault(FaultKind.SLOW, delay=0.4), times=3)
    done = await world.until_final(job.id)
    assert done.state is JobState.DELIVERED
    assert simulator.count(Endpoint.SUBMIT) == 1
    await world.stop()


# --- deadlines and submits in flight -----------------------------------------------------------------


async def test_a_deadline_that_passes_during_the_submit_charges_it_as_interrupted_and_tells_once(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    settings = dataclasses.replace(FAST, job_timeout_seconds=0.3)
    world = World(bot_database, http, sim_url, simulator, settings)
    await world.start()
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.SLOW, delay=1.0))  # Pixazo gets it, answers too late
    job = await world.submit()
    done = await world.until_final(job.id)
    assert (done.failure_kind, world.sink.failures[job.id][1]) == (FailureKind.INTERRUPTED, True)
    assert world.sink.told == [job.id]
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(8_000)
    await world.stop()


async def test_a_shutdown_during_the_submit_charges_it_and_the_restart_neither_resends_nor_retells(
    world: World, simulator: Simulator
) -> None:
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.SLOW, delay=1.0))
    job = await world.submit()
    async with asyncio.timeout(5):
        while (await world.job(job.id)).state is not JobState.SUBMITTING or not simulator.count(Endpoint.SUBMIT):
            await asyncio.sleep(0.01)
    first_sink = world.sink
    await world.stop()  # the submit is in flight
    await world.start()
    done = await world.job(job.id)
    assert (done.state, done.failure_kind, done.notified) == (JobState.FAILED, FailureKind.INTERRUPTED, True)
    assert first_sink.told == [job.id] and first_sink.failures[job.id][1] is True
    async with world.storage.transaction() as tx:
        assert await tx.jobs.unnotified(JobOrigin.DISCORD) == []  # so the restart has nothing to tell again
    assert (await world.ledger.usage(GUILD, ALICE)).spent == Money(8_000)
    assert simulator.count(Endpoint.SUBMIT) == 1


async def test_time_waiting_in_the_bots_queue_does_not_count_against_the_render_deadline(
    bot_database: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.3, concurrency=2))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    settings = dataclasses.replace(FAST, member_max_jobs=1, job_timeout_seconds=0.6)
    world = World(bot_database, http, base, simulator, settings)
    await world.start()
    jobs = [await world.submit(f"fox {n}") for n in range(3)]  # the third waits about 0.7 s before it is sent
    for job in jobs:
        assert (await world.until_final(job.id)).state is JobState.DELIVERED
    await world.stop()


async def test_a_job_that_waits_too_long_in_the_bots_queue_is_never_sent_and_is_released(
    bot_database: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.3, queue_depth=3))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    settings = dataclasses.replace(FAST, member_max_jobs=1, queue_timeout_seconds=0.2)
    world = World(bot_database, http, base, simulator, settings)
    await world.start()
    first = await world.submit("the first fox")
    second = await world.submit("the second fox")
    waited = await world.until_final(second.id)
    assert (waited.failure_kind, waited.request_id) == (FailureKind.WAITED, None)
    assert world.sink.failures[second.id][1] is False  # told it was not charged
    assert (await world.until_final(first.id)).state is JobState.DELIVERED
    assert [r.body["prompt"] for r in simulator.requests if r.endpoint == Endpoint.SUBMIT] == ["the first fox"]
    usage = await world.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved) == (Money(8_000), Money(0))
    await world.stop()


async def test_the_bot_never_resumes_a_terminal_job(world: World) -> None:
    await world.stop()
    world.storage = await open_storage(world.database_url)
    now = datetime.now(UTC)
    async with world.storage.transaction() as tx:  # a terminal run's job, left queued at Pixazo
        reservation = await world.ledger.reserve(guild_id=0, member_id=0, role_ids=[], images=1, tx=tx)
        job = await tx.jobs.insert(
            JobRequest(0, 0, 0, "a terminal fox", "square", "square_1_1"),
            reservation=reservation,
            delivery=Delivery(),
            now=now,
            origin=JobOrigin.TERMINAL,
        )
        job = await tx.jobs.update(job.id, now, state=JobState.QUEUED, request_id="terminal")  # type: ignore[assignment]
    await world.storage.close()
    await world.start()
    assert world.runner.active_count == 0 and world.runner.local_position(job.id) is None  # nothing scheduled
    assert await world.job(job.id) == job
