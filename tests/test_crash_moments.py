"""A kill at the worst moment of each step that posts for a job: the bot as a real process, SIGKILLed from the
Discord stand-in the instant a request has arrived, so Discord does what it asked and the bot never hears back.

Whatever the moment, the member sees exactly one set of images, the job ends where it should, and money
moves once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.models import Job, JobState
from bot.money import Money
from bot.simulator import BASE_PATH, Simulator, SimulatorSettings
from bot.storage import open_storage
from tests.conftest import Serve
from tests.discord_standin import LOADING, DiscordStandin, Interaction, Recorded, StoredMessage
from tests.harness import CHANNEL, DISCORD_TOKEN, GUILD
from tests.process import BotProcess, money_on_record

ALICE = 10_000_000_000_000_100
PRICE = Money(8_000)
NEVER_STARTED = "The bot restarted before your request started; nothing was charged. Please try again."


class World:
    def __init__(self, standin: DiscordStandin, simulator: Simulator, bot: BotProcess) -> None:
        self.standin = standin
        self.simulator = simulator
        self.bot = bot
        self.killed = asyncio.Event()

    def kill_on(self, method: str, pattern: str, when: Callable[[Recorded], bool] | None = None) -> None:
        """SIGKILL the bot the moment a matching request arrives (it is still carried out, unanswered)."""

        def kill(_: Recorded) -> None:
            assert self.bot.process is not None
            self.bot.process.kill()
            self.killed.set()

        self.standin.on_request(method, pattern, kill, when=when)

    async def restart_after_the_kill(self) -> None:
        await asyncio.wait_for(self.killed.wait(), 30)
        assert self.bot.process is not None
        await self.bot.process.wait()
        await self.bot.start()

    async def imagine(self, prompt: str) -> Interaction:
        options = [{"name": "prompt", "type": 3, "value": prompt}]
        return await self.standin.command("imagine", options, guild=GUILD, channel=CHANNEL, user=ALICE)

    async def jobs(self) -> list[Job]:
        async with open_storage(self.bot.database_url) as storage, storage.transaction() as tx:
            return await tx.jobs.by_state(list(JobState))

    async def settled(self, timeout: float = 60) -> list[Job]:
        async with asyncio.timeout(timeout):
            while not (jobs := await self.jobs()) or not all(job.state.final and job.notified for job in jobs):
                await asyncio.sleep(0.1)
        return jobs

    async def charged(self) -> tuple[Money, Money]:
        """Everything charged, and everything still reserved."""
        return await money_on_record(self.bot.database_url)

    def result_messages(self, job: Job) -> list[StoredMessage]:
        """The visible messages that show this job's result, attached or linked."""
        return [m for m in self.standin.visible(CHANNEL) if _is_result(m, job)]


def _is_result(message: StoredMessage, job: Job) -> bool:
    attached = any(f.filename.startswith(f"imagine-{job.id}-") for f in message.files)
    linked = any(f["name"] == "Too large to attach" for e in message.embeds for f in e.get("fields", []))
    return attached or (linked and f"imagine:delete:{job.id}" in message.custom_ids())


def _has_files(request: Recorded) -> bool:
    return bool(request.files)


@pytest.fixture
async def world(
    tmp_path: Path, bot_database: str, serve: Serve, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    marker = request.node.get_closest_marker("standin")
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: [CHANNEL]}, **(marker.kwargs if marker else {}))
    await standin.start()
    simulator = Simulator(SimulatorSettings(render_seconds=0.3, concurrency=1))
    settings = request.node.get_closest_marker("bot")
    sim_url = await serve(simulator.app) + BASE_PATH
    bot = BotProcess(tmp_path, standin, sim_url, bot_database, **(settings.kwargs if settings else {}))
    await bot.start()
    yield World(standin, simulator, bot)
    if bot.process is not None and bot.process.returncode is None:
        await bot.stop()
    await standin.close()


async def test_a_result_posted_after_the_reply_was_deleted_arrives_once_across_a_kill(world: World) -> None:
    interaction = await world.imagine("a fox")

    def delete_the_reply(_: Recorded) -> None:  # the member deletes the reply just as the result comes
        world.standin.messages[interaction.original_id or 0].deleted = True

    world.standin.on_request("PATCH", r"/webhooks/\d+/[^/]+/messages/", delete_the_reply, when=_has_files)
    world.kill_on("POST", rf"/channels/{CHANNEL}/messages$")  # the fallback message, the moment it is made
    await world.restart_after_the_kill()
    (job,) = await world.settled()
    assert job.state is JobState.DELIVERED
    assert len(world.result_messages(job)) == 1
    assert job.delivery.channel_message_id == world.result_messages(job)[0].id  # on record
    assert await world.charged() == (PRICE, Money(0))


@pytest.mark.standin(token_lifetime=63)  # the hand-off is due 60 s before expiry: 3 s in
@pytest.mark.bot(MEMBER_MAX_JOBS="1")
@pytest.mark.sqlite_file  # reads the job's state from the file in the middle of a request
async def test_a_job_waiting_in_the_bots_queue_is_handed_off_and_delivered_once_across_a_kill(world: World) -> None:
    world.simulator.add_backlog(14)  # the first job takes about 4.5 s, so the second waits in the bot's queue
    first = await world.imagine("the first fox")
    second = await world.imagine("the second fox")
    await world.standin.wait_for(lambda: first.acked_at is not None and second.acked_at is not None)
    states_when_handed_off: list[str] = []

    def for_the_second(request: Recorded) -> bool:
        return "the second fox" in json.dumps(request.json)

    def note_its_state(_: Recorded) -> None:
        with sqlite3.connect(world.bot.database_url.removeprefix("sqlite:///")) as conn:
            states_when_handed_off.append(conn.execute("SELECT state FROM jobs ORDER BY id").fetchall()[1][0])

    world.standin.on_request("POST", rf"/channels/{CHANNEL}/messages$", note_its_state, when=for_the_second)
    world.kill_on("POST", rf"/channels/{CHANNEL}/messages$", when=for_the_second)  # its hand-off, as it is made
    await world.restart_after_the_kill()
    assert states_when_handed_off == ["reserved"]  # handed off while it still waited in the bot's queue
    jobs = await world.settled()
    assert [job.state for job in jobs] == [JobState.DELIVERED, JobState.DELIVERED]
    for job in jobs:
        (result,) = world.result_messages(job)
        assert result.interaction_id is None and result.id == job.delivery.channel_message_id
    assert await world.charged() == (2 * PRICE, Money(0))


@pytest.mark.standin(attachment_limit=1000)  # every image is too large to attach: it is linked
async def test_a_linked_result_counts_as_delivered_across_a_kill(world: World) -> None:
    await world.imagine("a large fox")

    def linked(request: Recorded) -> bool:
        fields = [f for e in (request.json or {}).get("embeds") or [] for f in e.get("fields", [])]
        return any(f["name"] == "Too large to attach" for f in fields)

    world.kill_on("PATCH", r"/webhooks/\d+/[^/]+/messages/", when=linked)
    await world.restart_after_the_kill()
    (job,) = await world.settled()
    assert job.state is JobState.DELIVERED and job.images_delivered == 1
    results = [r for r in world.standin.requests if r.method in ("PATCH", "POST") and linked(r)]
    assert len(results) == 1  # posted once, not again after the restart
    assert await world.charged() == (PRICE, Money(0))


@pytest.mark.standin(token_lifetime=63)
async def test_a_result_that_cannot_be_read_back_is_not_failed_across_a_kill(world: World) -> None:
    world.simulator.add_backlog(12)  # still queued when the hand-off moves it to a channel message

    def cannot_read(_: Recorded) -> None:
        world.standin.unreadable_channels.add(CHANNEL)  # no Read Message History

    world.standin.on_request("PATCH", rf"/channels/{CHANNEL}/messages/\d+", cannot_read, when=_has_files)
    world.kill_on("PATCH", rf"/channels/{CHANNEL}/messages/\d+", when=_has_files)
    await world.imagine("a fox")
    await world.restart_after_the_kill()
    (job,) = await world.settled()
    assert job.state is JobState.DELIVERED
    assert len(world.result_messages(job)) == 1
    assert await world.charged() == (PRICE, Money(0))


async def test_a_kill_during_the_deferral_is_answered_at_the_next_start(world: World) -> None:
    world.standin.callback_delay = 0.5  # a real round trip: the bot records the interaction meanwhile
    loop = asyncio.get_running_loop()

    def kill_soon(_: Recorded) -> None:
        assert world.bot.process is not None
        loop.call_later(0.25, world.bot.process.kill)
        loop.call_later(0.25, world.killed.set)

    world.standin.on_request("POST", r"/interactions/\d+/[^/]+/callback", kill_soon)
    interaction = await world.imagine("a fox")
    await world.restart_after_the_kill()
    await world.standin.wait_for(lambda: bool(interaction.followups), 30)
    (followup,) = [world.standin.messages[i] for i in interaction.followups]
    assert followup.ephemeral and followup.content == NEVER_STARTED
    placeholder = world.standin.messages[interaction.original_id or 0]
    assert placeholder.deleted or not placeholder.flags & LOADING
    assert await world.jobs() == []
    assert await world.charged() == (Money(0), Money(0))
