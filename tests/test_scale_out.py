"""Three bot processes (`python -m bot`) on one PostgreSQL database, each running one shard of three, and one
of them SIGKILLed twice while sixty jobs across six servers are at work.

Whatever the kills cut, no job is lost (each ends, and its member is told), no image is posted twice, no
prompt is sent to Pixazo twice, and the ledger holds exactly the price of the images delivered plus the
submits that a kill interrupted (Pixazo may have billed those, so they are charged and never resent).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import FailureKind, Job, JobState, ReservationState
from bot.money import Money
from bot.simulator import BASE_PATH, Endpoint, Simulator, SimulatorSettings
from bot.storage import open_storage
from tests.conftest import Serve
from tests.databases import postgres_database
from tests.discord_standin import DiscordStandin, Interaction
from tests.harness import CHANNEL, DISCORD_TOKEN, GUILD
from tests.process import BotProcess, images_posted_per_job

log = logging.getLogger(__name__)
PRICE = Money(8_000)
SHARDS = 3
JOBS = 60


def servers() -> dict[int, int]:
    """Six servers, two per shard (Discord puts a server on shard (id >> 22) % count), each with a channel."""
    candidates = list(itertools.islice(itertools.count(GUILD, 1 << 22), 6 * SHARDS))
    found: dict[int, int] = {}
    for shard in range(SHARDS):
        for guild in [g for g in candidates if (g >> 22) % SHARDS == shard][:2]:
            found[guild] = CHANNEL + len(found)
    return found


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


def logged_in_again(standin: DiscordStandin, logins: int) -> bool:
    return len(standin.logins) > logins


async def all_jobs(url: str) -> list[Job]:
    async with open_storage(url) as storage, storage.transaction() as tx:
        return await tx.jobs.by_state(list(JobState))


async def money_on_record(url: str, jobs: list[Job]) -> tuple[Money, Money]:
    async with open_storage(url) as storage, storage.transaction() as tx:
        charged = await tx.spend.total_charged()
        reservations = [await tx.spend.get(job.reservation_id) for job in jobs if job.reservation_id is not None]
    reserved = sum((r.amount for r in reservations if r is not None and r.state is ReservationState.RESERVED), Money(0))
    return charged, reserved


async def test_sixty_jobs_on_three_sharded_processes_survive_one_of_them_killed_twice(
    tmp_path: Path, serve: Serve, postgres_url: str
) -> None:
    guilds = servers()
    standin = DiscordStandin(
        token=DISCORD_TOKEN, guilds={guild: [channel] for guild, channel in guilds.items()}, shards=SHARDS
    )
    await standin.start()
    simulator = Simulator(SimulatorSettings(render_seconds=0.5, concurrency=8))
    sim_url = await serve(simulator.app) + BASE_PATH
    bots = []
    for shard in range(SHARDS):
        folder = tmp_path / f"bot-{shard}"
        folder.mkdir()
        bots.append(
            BotProcess(
                folder, standin, sim_url, DATABASE_URL=postgres_url, SHARD_COUNT=str(SHARDS), SHARD_IDS=str(shard)
            )
        )
    try:
        await asyncio.gather(*(bot.start() for bot in bots))  # together, on an empty database
        await standin.wait_for(lambda: len(standin.logins) == SHARDS, 40)
        await asyncio.sleep(0.5)  # the last shard's servers arrive just after its READY

        interactions: list[Interaction] = []

        async def imagine(numbers: range) -> None:
            for number in numbers:
                guild = list(guilds)[number % len(guilds)]
                options = [{"name": "prompt", "type": 3, "value": f"fox number {number}"}]
                user = 10_000_000_000_000_100 + number
                channel = guilds[guild]
                interactions.append(await standin.command("imagine", options, guild=guild, channel=channel, user=user))

        victim = bots[1]
        # Killed while at work on each half of the jobs: once left down for the others to carry its jobs on
        # (they take them over when its sessions end), once restarted at once (it takes them back itself).
        for numbers, pause, down in ((range(JOBS // 2), 0.7, 3.0), (range(JOBS // 2, JOBS), 0.5, 0.0)):
            await imagine(numbers)
            await asyncio.sleep(pause)
            await victim.kill()
            await asyncio.sleep(down)
            logins = len(standin.logins)
            await victim.start()
            await standin.wait_for(functools.partial(logged_in_again, standin, logins), 40)

        try:
            async with asyncio.timeout(120):
                while not ((jobs := await all_jobs(postgres_url)) and all(j.state.final and j.notified for j in jobs)):
                    await asyncio.sleep(0.25)
        except TimeoutError:
            stuck = [(j.id, j.state.value) for j in await all_jobs(postgres_url) if not (j.state.final and j.notified)]
            pytest.fail(f"jobs that never ended: {stuck}")
        for bot in bots:
            assert await bot.stop() == 0
    finally:
        for bot in bots:
            if bot.process is not None and bot.process.returncode is None:
                await bot.kill()
        await standin.close()

    by_job = images_posted_per_job(standin)
    delivered = [job for job in jobs if job.state is JobState.DELIVERED]
    interrupted = [job for job in jobs if job.failure_kind is FailureKind.INTERRUPTED]
    for job in jobs:  # each delivered job's image is posted once; nothing of the others is
        assert by_job[job.id] == (job.images_delivered if job.state is JobState.DELIVERED else 0), job
    prompts = Counter(request.body["prompt"] for request in simulator.requests if request.endpoint == Endpoint.SUBMIT)
    assert max(prompts.values()) == 1  # no prompt sent twice
    charged, reserved = await money_on_record(postgres_url, jobs)
    assert charged == PRICE * (sum(job.images_delivered for job in delivered) + len(interrupted))
    assert reserved == Money(0)
    answered = [i for i in interactions if i.acked_at is not None]
    unanswered_jobs = JOBS - len(jobs)
    log.warning(
        "scale-out crash test: %d interactions, %d acknowledged, %d jobs (%d delivered, %d interrupted, %d other),"
        " %d interactions with no job (killed before it existed)",
        len(interactions),
        len(answered),
        len(jobs),
        len(delivered),
        len(interrupted),
        len(jobs) - len(delivered) - len(interrupted),
        unanswered_jobs,
    )
    takeovers = [bot.log.read_text().count("of stopped processes") for bot in bots]
    assert takeovers[0] + takeovers[2] >= 1  # the first kill's jobs were carried on by the others, at once
    assert len(jobs) >= JOBS - 2 * 2  # at most the interactions being acknowledged at each kill have no job
    assert len(delivered) + len(interrupted) == len(jobs)  # nothing failed for any other reason
