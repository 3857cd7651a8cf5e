"""Crashes and shutdowns: the bot as a real process, killed with SIGKILL or stopped with SIGTERM/SIGINT.

Whatever happens, every job ends in a final state its member was told about, no image is posted
twice, and the ledger holds exactly the price of the images delivered plus the jobs that were
interrupted mid-submit (which Pixazo may have billed, so they are charged and never resent).
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import FailureKind, Job, JobState
from bot.money import Money
from bot.simulator import BASE_PATH, Endpoint, Fault, FaultKind, Simulator, SimulatorSettings
from bot.storage import open_storage
from tests.conftest import Serve
from tests.discord_standin import DiscordStandin, Interaction
from tests.harness import CHANNEL, DISCORD_TOKEN, GUILD
from tests.process import BotProcess, images_posted_per_job, money_on_record

log = logging.getLogger(__name__)
PRICE = Money(8_000)
MEMBERS = [10_000_000_000_000_100 + n for n in range(6)]
NEVER_STARTED = "The bot restarted before your request started; nothing was charged. Please try again."


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: [CHANNEL]})
    await standin.start()
    yield standin
    await standin.close()


async def all_jobs(database_url: str) -> list[Job]:
    async with open_storage(database_url) as storage, storage.transaction() as tx:
        return await tx.jobs.by_state(list(JobState))


async def settled(database_url: str, timeout: float = 90) -> list[Job]:
    async with asyncio.timeout(timeout):
        while True:
            jobs = await all_jobs(database_url)
            if jobs and all(job.state.final and job.notified for job in jobs):
                return jobs
            await asyncio.sleep(0.25)


async def imagine(standin: DiscordStandin, member: int, prompt: str, count: int = 1) -> Interaction:
    options = [{"name": "prompt", "type": 3, "value": prompt}, {"name": "count", "type": 4, "value": count}]
    return await standin.command("imagine", options, guild=GUILD, channel=CHANNEL, user=member)


async def test_thirty_jobs_survive_repeated_sigkill(
    tmp_path: Path, bot_database: str, serve: Serve, standin: DiscordStandin
) -> None:
    rng = random.Random(20261126)
    simulator = Simulator(SimulatorSettings(render_seconds=0.4, concurrency=3))
    bot = BotProcess(tmp_path, standin, await serve(simulator.app) + BASE_PATH, bot_database)
    await bot.start()
    interactions: list[Interaction] = []
    kills = 0
    while len(interactions) < 30 or kills < 6:
        for _ in range(min(rng.randint(1, 4), 30 - len(interactions))):
            member = MEMBERS[len(interactions) % len(MEMBERS)]
            interactions.append(await imagine(standin, member, f"fox {len(interactions)}", rng.choice([1, 1, 2])))
        if kills in (1, 3):  # make sure some kills land inside a submit call
            simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.SLOW, delay=1.5))
            interactions.append(await imagine(standin, MEMBERS[kills], f"slow fox {kills}"))
            await asyncio.sleep(0.6)
        else:
            await asyncio.sleep(rng.uniform(0.05, 1.2))
        if kills < 6:
            await bot.kill()
            kills += 1
            await bot.start()
    jobs = await settled(bot.database_url)
    await bot.stop()

    # every job ended, and its member was told (settled() waited for final and notified)
    by_job = images_posted_per_job(standin)
    delivered = [job for job in jobs if job.state is JobState.DELIVERED]
    for job in jobs:
        assert by_job[job.id] == (job.images_delivered if job.state is JobState.DELIVERED else 0), job
    assert sum(by_job.values()) == sum(job.images_delivered for job in delivered)  # nothing posted twice

    interrupted = [job for job in jobs if job.failure_kind is FailureKind.INTERRUPTED]
    expected = PRICE * (sum(job.images_delivered for job in delivered) + sum(job.request.count for job in interrupted))
    charged, reserved = await money_on_record(bot.database_url)
    assert charged == expected
    assert reserved == Money(0)  # nothing left reserved

    submitted = [job for job in jobs if job.request_id]
    assert len(submitted) <= simulator.count(Endpoint.SUBMIT) <= len(submitted) + len(interrupted)
    acked_without_job = [
        i
        for i in interactions
        if i.acked_at is not None and not any(j.delivery.message_id == i.original_id for j in jobs)
    ]
    await standin.wait_for(lambda: all(told_never_started(standin, i) for i in acked_without_job), 30)
    unacked = [i for i in interactions if i.acked_at is None]
    log.warning(
        "crash test: %d kills, %d interactions, %d jobs (%d delivered, %d interrupted mid-submit, %d other failures),"
        " %d never acknowledged (Discord told the member), %d acknowledged just before a kill with no job"
        " (told so at the next start)",
        kills,
        len(interactions),
        len(jobs),
        len(delivered),
        len(interrupted),
        len(jobs) - len(delivered) - len(interrupted),
        len(unacked),
        len(acked_without_job),
    )
    assert kills >= 5
    assert len(jobs) >= 20
    assert interrupted  # the slow submits were cut off
    assert len(acked_without_job) <= kills  # at most the one being deferred at each kill


def told_never_started(standin: DiscordStandin, interaction: Interaction) -> bool:
    """The member of an interaction that never became a job was told so, and the placeholder is gone."""
    told = any(standin.messages[i].content == NEVER_STARTED for i in interaction.followups)
    placeholder = standin.original(interaction)
    return told and (placeholder is None or placeholder.deleted)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_cleanly_and_the_next_start_finishes_the_job(
    tmp_path: Path, bot_database: str, serve: Serve, standin: DiscordStandin, signum: signal.Signals
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.5, concurrency=1))
    bot = BotProcess(tmp_path, standin, await serve(simulator.app) + BASE_PATH, bot_database)
    await bot.start()
    simulator.add_backlog(6)
    interaction = await imagine(standin, MEMBERS[0], "a patient fox")
    await standin.wait_for(lambda: (m := standin.original(interaction)) is not None and "Queued" in str(m.embeds))
    assert await bot.stop(signum) == 0
    (job,) = await all_jobs(bot.database_url)
    assert not job.state.final
    assert "stopped cleanly" in bot.log.read_text()
    await bot.start()
    (job,) = await settled(bot.database_url)
    assert job.state is JobState.DELIVERED
    assert simulator.count(Endpoint.SUBMIT) == 1
    assert sum(len(m.files) for m in standin.messages.values()) == 1
    await bot.stop()


async def two_bots_one_job(
    tmp_path: Path, bot_database: str, serve: Serve, standin: DiscordStandin, lease_seconds: int
) -> tuple[BotProcess, BotProcess, Simulator]:
    """A job the first bot holds, queued at Pixazo behind other work, and a second bot on the same file."""
    simulator = Simulator(SimulatorSettings(render_seconds=0.5, concurrency=1))
    sim_url = await serve(simulator.app) + BASE_PATH
    settings = {"JOB_LEASE_SECONDS": str(lease_seconds)}
    first = BotProcess(tmp_path, standin, sim_url, bot_database, **settings)
    await first.start()
    simulator.add_backlog(8)
    interaction = await imagine(standin, MEMBERS[0], "a fox seen by two bots")
    await standin.wait_for(lambda: (m := standin.original(interaction)) is not None and "Queued" in str(m.embeds))
    (tmp_path / "second").mkdir()
    second = BotProcess(tmp_path / "second", standin, sim_url, first.database_url, **settings)
    await second.start()  # after the command: the stand-in sends each interaction to the bots connected then
    return first, second, simulator


async def delivered_once(bot: BotProcess, standin: DiscordStandin, simulator: Simulator) -> None:
    (job,) = await settled(bot.database_url, timeout=30)
    assert job.state is JobState.DELIVERED
    assert simulator.count(Endpoint.SUBMIT) == 1
    assert sum(len(m.files) for m in standin.messages.values()) == 1
    assert await money_on_record(bot.database_url) == (PRICE, Money(0))


async def test_a_bot_killed_on_this_machine_has_its_job_carried_on_by_another_at_once(
    tmp_path: Path, bot_database: str, serve: Serve, standin: DiscordStandin
) -> None:
    """Its lease has a minute left, but it is proven gone (its OS lock is free, or its database session ended)."""
    first, second, simulator = await two_bots_one_job(tmp_path, bot_database, serve, standin, lease_seconds=60)
    await first.kill()
    await delivered_once(first, standin, simulator)  # within 30 s: well before the lease would run out
    assert "took over 1 jobs of stopped processes" in second.log.read_text()
    assert await second.stop() == 0


async def test_a_paused_bot_loses_its_job_to_another_and_on_waking_touches_nothing(
    tmp_path: Path, bot_database: str, serve: Serve, standin: DiscordStandin
) -> None:
    """Seen in a review: two processes on one database both carried on one job, and one failed it (releasing
    its money) while the other delivered it. A bot held up past its lease now finds the job is not its own."""
    first, second, simulator = await two_bots_one_job(tmp_path, bot_database, serve, standin, lease_seconds=2)
    assert first.process is not None
    first.process.send_signal(signal.SIGSTOP)
    try:
        await delivered_once(first, standin, simulator)
    finally:
        first.process.send_signal(signal.SIGCONT)
    async with asyncio.timeout(10):
        while "taken over by another process" not in first.log.read_text():
            await asyncio.sleep(0.1)
    assert await first.stop() == 0
    assert await second.stop() == 0
    await delivered_once(first, standin, simulator)  # the woken bot posted nothing and settled no money
