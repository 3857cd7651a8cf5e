"""Cancel on a job waiting in the bot: the real discord.py bot, the Discord stand-in, the Pixazo simulator.

A job Pixazo does not have yet ends cancelled at its member's (or a moderator's) press, with exactly its
reservation released; one Pixazo has is never cancelled. Of a cancel and a send, exactly one wins, whichever
process holds the job.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.errors import NotAllowedError
from bot.jobs import JobRunner
from bot.jobs.cancel import cancel
from bot.ledger import Ledger
from bot.models import Job, JobState, ReservationState
from bot.money import Money
from bot.simulator import Endpoint, Fault, FaultKind, Simulator, SimulatorSettings
from bot.storage import open_storage
from tests.conftest import TEST_KEY
from tests.discord_standin import (
    MANAGE_MESSAGES,
    MEMBER_PERMISSIONS,
    DiscordStandin,
    Interaction,
    Recorded,
    StoredMessage,
)
from tests.harness import ALICE, BOB, CHANNEL, DISCORD_TOKEN, GUILD, MOD, Harness

PRICE = Money(8_000)


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.4)


@pytest.fixture
async def one_at_pixazo(
    bot_database: str, simulator: Simulator, sim_url: str, standin: DiscordStandin
) -> AsyncIterator[Harness]:
    """A bot that keeps one job at Pixazo at a time: the next waits in the bot for a Pixazo slot."""
    harness = Harness(bot_database, simulator, sim_url, standin, max_active_jobs=1)
    await harness.start()
    yield harness
    await harness.stop()


async def imagine(harness: Harness, prompt: str, **options: Any) -> Interaction:
    """/imagine, once its job is recorded: the jobs of a test are made in the order it asks for them."""
    interaction = await harness.imagine(prompt, **options)
    await harness.job_of(interaction)
    return interaction


async def waiting(harness: Harness, interaction: Interaction) -> tuple[Job, StoredMessage, str]:
    """The job an interaction started, once its reply shows it waiting with a Cancel button."""
    job = await harness.job_of(interaction)
    custom_id = f"imagine:cancel:{job.id}"
    await harness.standin.wait_for(
        lambda: (m := harness.standin.original(interaction)) is not None and custom_id in m.custom_ids()
    )
    reply = harness.standin.original(interaction)
    assert reply is not None and reply.embeds[0]["title"].startswith("Waiting for a free slot")
    return job, reply, custom_id


async def shows_cancelled(harness: Harness, reply: StoredMessage) -> None:
    await harness.standin.wait_for(lambda: reply.embeds[0]["title"].startswith("Cancelled") and not reply.custom_ids())


async def job_row(harness: Harness, job_id: int) -> Job:
    async with harness.storage.transaction() as tx:
        job = await tx.jobs.get(job_id)
    assert job is not None
    return job


async def reservation_state(harness: Harness, job: Job) -> ReservationState:
    assert job.reservation_id is not None
    async with harness.storage.transaction() as tx:
        reservation = await tx.spend.get(job.reservation_id)
    assert reservation is not None
    return reservation.state


def runner(harness: Harness) -> JobRunner:
    # Not isinstance(cog, Imagine): discord.py drops an extension's modules when it unloads it, so a bot
    # started after another one stopped has a cog of a freshly imported class.
    found = getattr(harness.bot.get_cog("Imagine"), "runner", None)
    assert isinstance(found, JobRunner)
    return found


def cancelled(request: Recorded) -> bool:
    """A request that shows a job cancelled."""
    return "Cancelled" in json.dumps(request.json)


def without(custom_id: str) -> Callable[[Recorded], bool]:
    """A request that takes the button `custom_id` away."""
    return lambda request: custom_id not in json.dumps(request.json)


async def submits(harness: Harness, count: int) -> None:
    """Until the simulator has had `count` submits (it tells the stand-in nothing, so this looks again and again)."""
    async with asyncio.timeout(10):
        while harness.simulator.count(Endpoint.SUBMIT) < count:
            await asyncio.sleep(0.02)


async def ended_row(harness: Harness, job_id: int) -> Job:
    async with asyncio.timeout(10):
        while not (job := await job_row(harness, job_id)).state.final:
            await asyncio.sleep(0.02)
    return job


def prompts_submitted(harness: Harness) -> list[str]:
    return [r.body["prompt"] for r in harness.simulator.requests if r.endpoint == Endpoint.SUBMIT]


async def test_cancel_ends_a_job_waiting_behind_the_members_cap_releases_it_and_moves_the_queue_up(
    harness: Harness,
) -> None:
    harness.simulator.add_backlog(15)  # the member's first two stay at Pixazo a few seconds
    first, second = [await imagine(harness, f"lighthouse {n}") for n in (1, 2)]
    third = await imagine(harness, "the one to cancel", count=2)
    fourth = await imagine(harness, "lighthouse 4")
    job, reply, custom_id = await waiting(harness, third)
    after, _, _ = await waiting(harness, fourth)
    assert runner(harness).local_position(after.id) == 2
    before = await harness.ledger.usage(GUILD, ALICE)
    assert before.reserved == PRICE * 5

    press = await harness.standin.click(reply.id, custom_id, user=ALICE)
    await shows_cancelled(harness, reply)
    assert press.response_type == 6 and harness.private_texts(press) == []
    cancelled = await job_row(harness, job.id)
    assert (cancelled.state, cancelled.notified, cancelled.finished_at is not None) == (JobState.CANCELLED, True, True)
    assert await reservation_state(harness, cancelled) == ReservationState.RELEASED
    usage = await harness.ledger.usage(GUILD, ALICE)
    assert (usage.reserved, usage.spent) == (before.reserved.remaining_after(PRICE * 2), Money(0))  # exactly its own
    assert runner(harness).local_position(after.id) == 1  # the next one moved up
    assert await reservation_state(harness, after) == ReservationState.RESERVED  # the others' are theirs still

    for interaction in (first, second, fourth):
        assert len((await harness.reply(interaction)).files) == 1
    assert "the one to cancel" not in prompts_submitted(harness) and len(prompts_submitted(harness)) == 3
    usage = await harness.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved, usage.images) == (PRICE * 3, Money(0), 3)
    assert reply.embeds[0]["title"].startswith("Cancelled")  # nothing was shown over it since


async def test_a_stranger_cannot_cancel_and_nothing_changes(harness: Harness) -> None:
    harness.simulator.add_backlog(15)
    for n in (1, 2):
        await imagine(harness, f"lighthouse {n}")
    third = await imagine(harness, "a waiting lighthouse")
    job, reply, custom_id = await waiting(harness, third)
    before = await harness.ledger.usage(GUILD, ALICE)

    press = await harness.standin.click(reply.id, custom_id, user=BOB)
    answer = await harness.answer(press)
    assert answer.content == (
        "Only the member who asked for this image, or someone who can manage messages, can cancel it."
    )
    assert (await job_row(harness, job.id)).state is JobState.RESERVED
    assert await reservation_state(harness, job) == ReservationState.RESERVED
    assert (await harness.ledger.usage(GUILD, ALICE)).reserved == before.reserved
    assert custom_id in reply.custom_ids()
    assert len((await harness.reply(third)).files) == 1  # it went ahead, and was charged
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == PRICE * 3


async def test_someone_who_manages_messages_can_cancel_a_members_waiting_job(harness: Harness) -> None:
    harness.simulator.add_backlog(15)
    for n in (1, 2):
        await imagine(harness, f"lighthouse {n}")
    third = await imagine(harness, "a waiting lighthouse")
    job, reply, custom_id = await waiting(harness, third)

    await harness.standin.click(reply.id, custom_id, user=MOD, permissions=MEMBER_PERMISSIONS | MANAGE_MESSAGES)
    await shows_cancelled(harness, reply)
    assert reply.embeds[0]["fields"] == [{"name": "Cancelled by", "value": f"<@{MOD}>", "inline": True}]
    assert (await job_row(harness, job.id)).state is JobState.CANCELLED
    assert await reservation_state(harness, job) == ReservationState.RELEASED


async def test_pressing_cancel_twice_says_privately_that_it_was_cancelled_already(harness: Harness) -> None:
    harness.simulator.add_backlog(15)
    for n in (1, 2):
        await imagine(harness, f"lighthouse {n}")
    third = await imagine(harness, "a waiting lighthouse")
    job, reply, custom_id = await waiting(harness, third)
    # The first press's edit is slow to arrive, so the member sees the button still there and presses again.
    edit = harness.standin.hold("PATCH", r"/webhooks/", when=cancelled)
    try:
        first = await harness.standin.click(reply.id, custom_id, user=ALICE)
        await harness.standin.wait_for(lambda: any(map(cancelled, harness.standin.requests_to(r"/webhooks/", "PATCH"))))
        again = await harness.standin.click(reply.id, custom_id, user=ALICE)
        assert (await harness.answer(again)).content == "This request was cancelled already."
    finally:
        edit.set()
    await shows_cancelled(harness, reply)
    assert harness.private_texts(first) == []
    assert (await job_row(harness, job.id)).state is JobState.CANCELLED
    assert await reservation_state(harness, job) == ReservationState.RELEASED


async def test_cancel_after_the_job_ended_is_too_late_and_changes_nothing(harness: Harness) -> None:
    harness.simulator.add_backlog(15)
    for n in (1, 2):
        await imagine(harness, f"lighthouse {n}")
    third = await imagine(harness, "a waiting lighthouse")
    job, reply, custom_id = await waiting(harness, third)
    await submits(harness, 2)
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=400))  # the third is refused when sent
    # Discord is slow to take the button away (an edit, or the reply's removal), so the member still sees it.
    path = rf"/webhooks/\d+/{third.token}/messages/"
    held = [harness.standin.hold("DELETE", path), harness.standin.hold("PATCH", path, when=without(custom_id))]
    try:
        await submits(harness, 3)
        ended = await ended_row(harness, job.id)
        assert ended.state is JobState.FAILED and await reservation_state(harness, job) == ReservationState.RELEASED

        late = await harness.standin.click(reply.id, custom_id, user=ALICE)
        assert (await harness.answer(late)).content == "Too late to cancel: this request has already ended."
        assert await job_row(harness, job.id) == ended
        assert await reservation_state(harness, job) == ReservationState.RELEASED
    finally:
        for release in held:
            release.set()
    assert (await harness.final(job.id)).state is JobState.FAILED


async def test_cancel_still_works_after_a_restart(harness: Harness) -> None:
    harness.simulator.add_backlog(40)  # the member's first two stay at Pixazo well past the restart
    for n in (1, 2):
        await imagine(harness, f"lighthouse {n}")
    third = await imagine(harness, "a waiting lighthouse")
    job, reply, custom_id = await waiting(harness, third)
    await harness.stop()
    await harness.start()  # the new process takes the job over, still waiting

    await harness.standin.click(reply.id, custom_id, user=ALICE)
    await shows_cancelled(harness, reply)
    assert (await job_row(harness, job.id)).state is JobState.CANCELLED
    assert await reservation_state(harness, job) == ReservationState.RELEASED
    assert (await harness.ledger.usage(GUILD, ALICE)).reserved == PRICE * 2
    assert "a waiting lighthouse" not in prompts_submitted(harness)


async def test_a_cancel_written_first_by_another_process_stops_the_holder_from_sending(
    one_at_pixazo: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness = one_at_pixazo
    harness.simulator.add_backlog(15)
    at_pixazo = await imagine(harness, "lighthouse 1")
    held = await imagine(harness, "a waiting lighthouse", user=BOB)  # waits for the one Pixazo slot
    behind = await imagine(harness, "lighthouse 3", user=BOB)
    job, reply, _ = await waiting(harness, held)

    async with open_storage(harness.config.database_url) as elsewhere:  # another process, holding nothing
        ledger = Ledger(elsewhere, harness.ledger.defaults, harness.clock)
        cancelled = await cancel(
            elsewhere, ledger, job.id, by=BOB, guild_id=GUILD, manages_messages=False, now=harness.clock()
        )
    assert cancelled.state is JobState.CANCELLED

    caplog.set_level(logging.INFO, logger="bot.jobs")
    assert len((await harness.reply(at_pixazo)).files) == 1
    assert len((await harness.reply(behind)).files) == 1  # it came after the cancelled one, oldest first
    let_go = (  # when it tried to send it, or at its heartbeat before that, whichever came first
        f"job {job.id}: taken over by another process, which has ended it; this one leaves it",
        f"jobs [{job.id}] were cancelled in another process",
    )
    assert any(message in caplog.messages for message in let_go)
    assert "a waiting lighthouse" not in prompts_submitted(harness)
    assert await reservation_state(harness, job) == ReservationState.RELEASED
    usage = await harness.ledger.usage(GUILD, BOB)
    assert (usage.spent, usage.reserved) == (PRICE, Money(0))
    assert (await job_row(harness, job.id)).state is JobState.CANCELLED
    assert reply.embeds[0]["title"].startswith("Waiting")  # the holder showed nothing over it


async def test_a_job_cancelled_in_another_process_leaves_the_holders_queue_at_its_next_heartbeat(
    bot_database: str, simulator: Simulator, sim_url: str, standin: DiscordStandin
) -> None:
    """The process that gets the press need not hold the job. The holder learns of the cancel when it renews its
    leases (a cancelled job has none), so the member's job behind it moves up then, not only when the cancelled
    one's turn to be sent comes."""
    harness = Harness(bot_database, simulator, sim_url, standin, job_lease_seconds=1.5)
    await harness.start()
    try:
        harness.simulator.add_backlog(40)  # the member's first two stay at Pixazo for seconds
        for n in (1, 2):
            await imagine(harness, f"lighthouse {n}")
        job, _, _ = await waiting(harness, await imagine(harness, "the one to cancel"))
        after, _, _ = await waiting(harness, await imagine(harness, "lighthouse 4"))
        assert runner(harness).local_position(after.id) == 2

        async with open_storage(harness.config.database_url) as elsewhere:  # another process, holding nothing
            ledger = Ledger(elsewhere, harness.ledger.defaults, harness.clock)
            await cancel(
                elsewhere, ledger, job.id, by=ALICE, guild_id=GUILD, manages_messages=False, now=harness.clock()
            )

        async with asyncio.timeout(5):  # a heartbeat comes every half second here
            while runner(harness).local_position(after.id) != 1:
                await asyncio.sleep(0.05)
        assert runner(harness).local_position(job.id) is None
        assert (await job_row(harness, after.id)).state is JobState.RESERVED  # still waiting its turn
    finally:
        await harness.stop()


async def test_a_waiting_job_moved_to_a_channel_message_before_its_token_expires_keeps_its_cancel_button(
    bot_database: str, simulator: Simulator, sim_url: str
) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: [CHANNEL]}, token_lifetime=62)
    await standin.start()
    harness = Harness(bot_database, simulator, sim_url, standin)
    await harness.start()
    try:
        simulator.add_backlog(60)  # the member's first two stay at Pixazo well past the hand-off, 2 s in
        for n in (1, 2):
            await imagine(harness, f"lighthouse {n}")
        job, reply, custom_id = await waiting(harness, await imagine(harness, "the one to cancel"))
        await harness.standin.wait_for(lambda: "updates continue in" in reply.content)

        moved = standin.messages[(await job_row(harness, job.id)).delivery.channel_message_id or 0]
        assert moved.embeds[0]["title"].startswith("Waiting for a free slot") and moved.custom_ids() == [custom_id]
        press = await harness.standin.click(moved.id, custom_id, user=ALICE)
        await shows_cancelled(harness, moved)
        assert press.response_type == 6
        assert (await job_row(harness, job.id)).state is JobState.CANCELLED
    finally:
        await harness.stop()
        await standin.close()


async def test_a_cancel_pressed_while_the_job_is_being_sent_is_too_late_and_the_job_runs_to_its_end(
    one_at_pixazo: Harness,
) -> None:
    harness = one_at_pixazo
    harness.simulator.add_backlog(3)
    at_pixazo = await imagine(harness, "lighthouse 1")
    held = await imagine(harness, "a waiting lighthouse", user=BOB)
    job, reply, custom_id = await waiting(harness, held)
    await submits(harness, 1)
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.SLOW, delay=5.0))  # the next submit takes a while
    # Discord is slow to take the button away, so the member still sees it.
    edit = harness.standin.hold("PATCH", rf"/webhooks/\d+/{held.token}/messages/", when=without(custom_id))
    try:
        await harness.reply(at_pixazo)
        await submits(harness, 2)  # it is being sent

        press = await harness.standin.click(reply.id, custom_id, user=BOB)
        assert (await harness.answer(press)).content == (
            "Too late to cancel: the image service already has this request, and it cannot stop it now."
        )
        assert (await job_row(harness, job.id)).state is JobState.SUBMITTING
    finally:
        edit.set()
    assert len((await harness.reply(held)).files) == 1
    assert prompts_submitted(harness).count("a waiting lighthouse") == 1
    assert await reservation_state(harness, job) == ReservationState.CHARGED
    assert (await harness.ledger.usage(GUILD, BOB)).spent == PRICE


async def test_a_press_from_another_server_cannot_cancel_even_with_manage_messages_there(harness: Harness) -> None:
    """Manage Messages is a permission in the server pressed in; it says nothing about another server's jobs."""
    harness.simulator.add_backlog(15)
    for n in (1, 2):
        await imagine(harness, f"lighthouse {n}")
    job, _, _ = await waiting(harness, await imagine(harness, "a waiting lighthouse"))
    with pytest.raises(NotAllowedError, match="not from this server"):
        await cancel(
            harness.storage,
            harness.ledger,
            job.id,
            by=MOD,
            guild_id=GUILD + 1,
            manages_messages=True,
            now=harness.clock(),
        )
    assert (await job_row(harness, job.id)).state is JobState.RESERVED
    assert await reservation_state(harness, job) == ReservationState.RESERVED
