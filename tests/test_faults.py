"""Faults from Pixazo and from Discord, abuse, and secrets: the bot keeps serving and loses nothing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.breaker import BreakerState
from bot.models import FailureKind, JobState
from bot.money import Money
from bot.simulator import Endpoint, Fault, FaultKind
from tests.conftest import TEST_KEY
from tests.databases import dump_rows
from tests.harness import ALICE, BOB, CHANNEL, DISCORD_TOKEN, GUILD, Harness

TROUBLE = "The image service is having trouble; try again in a few minutes."


async def private(harness: Harness, interaction: object) -> str:
    await harness.standin.wait_for(lambda: bool(harness.private_texts(interaction)))  # type: ignore[arg-type]
    return harness.private_texts(interaction)[0]  # type: ignore[arg-type]


# --- the circuit breaker ----------------------------------------------------------------------------


async def test_the_breaker_opens_after_repeated_failures_and_closes_after_a_probe(harness: Harness) -> None:
    breaker = harness.bot.pixazo.breaker
    breaker.cooldown_seconds = 0.5
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=503), times=1000)
    for attempt in range(breaker.threshold):  # each a submit that failed after its retries
        interaction = await harness.imagine(f"try {attempt}")
        assert "could not make this image" in await private(harness, interaction)
    assert breaker.state is BreakerState.OPEN
    submits = harness.simulator.count(Endpoint.SUBMIT)

    refused = await harness.imagine("while it is open")
    assert await private(harness, refused) == TROUBLE
    assert harness.simulator.count(Endpoint.SUBMIT) == submits
    usage = await harness.ledger.usage(GUILD, ALICE)
    assert (usage.reserved, usage.spent) == (Money(0), Money(0))

    harness.simulator.clear_faults()
    await asyncio.sleep(0.6)
    message = await harness.reply(await harness.imagine("after the cool-down"))
    assert len(message.files) == 1
    assert harness.bot.pixazo.breaker.state is BreakerState.CLOSED  # (a fresh read: mypy narrowed breaker.state)
    probes = [
        r
        for r in harness.simulator.requests
        if r.endpoint == Endpoint.RESULT and (r.body or {}).get("request_id", "").startswith("imagine-bot-probe")
    ]
    assert len(probes) == 1


async def test_a_failed_probe_keeps_the_breaker_open(harness: Harness) -> None:
    breaker = harness.bot.pixazo.breaker
    breaker.cooldown_seconds = 0.2
    for _ in range(breaker.threshold):
        breaker.failed()
    await asyncio.sleep(0.3)
    harness.simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=500), times=10)
    assert await private(harness, await harness.imagine("probe fails")) == TROUBLE
    assert breaker.state is BreakerState.OPEN


# --- Pixazo faults ----------------------------------------------------------------------------------


async def test_a_429_storm_on_polling_still_delivers_and_other_members_are_served(harness: Harness) -> None:
    harness.simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=429, retry_after=0.05), times=6)
    first = await harness.imagine("alice's fox")
    second = await harness.imagine("bob's fox", user=BOB)
    assert len((await harness.reply(first)).files) == 1
    assert len((await harness.reply(second)).files) == 1


@pytest.mark.parametrize(
    ("endpoint", "fault", "times", "delivered"),
    [
        (Endpoint.IMAGE, Fault(FaultKind.TRUNCATE), 1, True),
        (Endpoint.IMAGE, Fault(FaultKind.SLOW, delay=0.3), 1, True),
        (Endpoint.RESULT, Fault(FaultKind.SLOW, delay=0.3), 2, True),
        (Endpoint.RESULT, Fault(FaultKind.DROP), 2, True),
        (Endpoint.IMAGE, Fault(FaultKind.STATUS, status=404), 10, False),
        (Endpoint.RESULT, Fault(FaultKind.EMPTY_RESULT), 1, False),
        (Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=400), 1, False),
    ],
)
async def test_pixazo_faults_end_well_or_tell_the_member_and_release(
    harness: Harness, endpoint: Endpoint, fault: Fault, times: int, delivered: bool
) -> None:
    harness.simulator.inject(endpoint, fault, times=times)
    interaction = await harness.imagine("a fox")
    job = await harness.final((await harness.job_of(interaction)).id)
    usage = await harness.ledger.usage(GUILD, ALICE)
    if delivered:
        assert job.state is JobState.DELIVERED
        assert usage.spent == Money(8_000)
    else:
        assert job.state is JobState.FAILED
        assert await private(harness, interaction)
        assert (usage.spent, usage.reserved) == (Money(0), Money(0))
    harness.simulator.clear_faults()


# --- Discord faults ---------------------------------------------------------------------------------


async def test_429_and_5xx_on_edits_are_retried_and_the_result_arrives(harness: Harness) -> None:
    harness.standin.fail("PATCH", r"/webhooks/\d+/[^/]+/messages/", 429, retry_after=0.1, times=3)
    harness.standin.fail("PATCH", r"/webhooks/\d+/[^/]+/messages/", 502, times=1)
    message = await harness.reply(await harness.imagine("a fox"))
    assert len(message.files) == 1


async def test_a_deleted_reply_gets_the_result_in_a_new_channel_message(harness: Harness) -> None:
    harness.simulator.add_backlog(4)
    interaction = await harness.imagine("a fox")
    await harness.standin.wait_for(lambda: (m := harness.standin.original(interaction)) is not None and m.edits > 0)
    harness.standin.messages[interaction.original_id or 0].deleted = True  # the member deleted it
    job = await harness.final((await harness.job_of(interaction)).id)
    assert job.state is JobState.DELIVERED
    (posted,) = [m for m in harness.standin.visible(CHANNEL) if m.files]
    assert posted.content == f"<@{ALICE}>" and posted.allowed_mentions == {"parse": [], "users": [ALICE]}


async def test_no_permission_anywhere_fails_the_job_releases_and_tells_the_member(harness: Harness) -> None:
    harness.standin.fail("PATCH", r"/webhooks/\d+/[^/]+/messages/", 403, code=50013, times=1000)
    harness.standin.denied_channels.add(CHANNEL)
    interaction = await harness.imagine("a fox")
    job = await harness.final((await harness.job_of(interaction)).id)
    assert job.failure_kind is FailureKind.DELIVERY
    assert "could not be fetched or posted" in await private(harness, interaction)
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(0)
    harness.standin.denied_channels.clear()
    harness.standin._failures.clear()
    assert len((await harness.reply(await harness.imagine("bob's fox", user=BOB))).files) == 1


# --- abuse ------------------------------------------------------------------------------------------


async def test_twenty_at_once_get_the_cap_and_private_refusals(harness: Harness) -> None:
    harness.simulator.add_backlog(3)
    interactions = await asyncio.gather(*(harness.imagine(f"fox {i}") for i in range(20)))
    await harness.standin.wait_for(lambda: sum(bool(harness.private_texts(i)) for i in interactions) >= 15)
    refusals = [harness.private_texts(i)[0] for i in interactions if harness.private_texts(i)]
    assert refusals == ["You already have 5 images in progress or waiting; try again when one finishes."] * 15
    async with harness.storage.transaction() as tx:
        jobs = await tx.jobs.by_state(list(JobState))
    assert len(jobs) == 5
    for job in jobs:
        assert (await harness.final(job.id, timeout=30)).state is JobState.DELIVERED
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(40_000)


async def test_a_6000_character_prompt_is_refused_with_its_length(harness: Harness) -> None:
    text = await private(harness, await harness.imagine("x" * 6000))
    assert text == "Your prompt is 6,000 characters long; the limit is 1,500."
    assert harness.simulator.count(Endpoint.SUBMIT) == 0


async def test_control_characters_and_mass_mentions_are_cleaned_and_never_ping(harness: Harness) -> None:
    interaction = await harness.imagine("a\x00 fox\x1b[31m @everyone @here <@&1> \u202edlrow")
    message = await harness.reply(interaction)
    job = await harness.final((await harness.job_of(interaction)).id)
    assert "\x00" not in job.request.prompt and "\x1b" not in job.request.prompt and "\u202e" not in job.request.prompt
    description = message.embeds[0]["description"]
    assert "@everyone" not in description and "@here" not in description  # shown defused
    assert message.allowed_mentions is not None and message.allowed_mentions["parse"] == []


async def test_only_control_characters_is_an_empty_prompt(harness: Harness) -> None:
    assert await private(harness, await harness.imagine("\x00\x01\u200b")) == (
        "Your prompt is empty; describe the image you want."
    )


# --- secrets ----------------------------------------------------------------------------------------


async def test_no_secret_reaches_a_log_line_a_discord_payload_or_the_database(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    message = await harness.reply(await harness.imagine("a fox in the snow", count=2))
    forbidden = await harness.imagine("something forbidden")
    await harness.final((await harness.job_of(forbidden)).id)
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=401))
    refused = await harness.imagine("a refused key")
    await harness.final((await harness.job_of(refused)).id)  # every job ended and its member was told
    assert message.files
    secrets = [DISCORD_TOKEN, TEST_KEY]
    for secret in secrets:
        assert secret not in caplog.text
        for request in harness.standin.requests:
            assert secret not in repr(request.json) and secret not in request.path
        assert not any(secret in line for line in await dump_rows(harness.config.database_url))
    assert all(
        r.headers.get("Authorization") == f"Bot {DISCORD_TOKEN}"
        for r in harness.standin.requests
        if "/webhooks/" not in r.path and "/interactions/" not in r.path
    )
    for holder in (harness.config, harness.bot.pixazo, harness.bot.storage):
        assert DISCORD_TOKEN not in repr(holder) and TEST_KEY not in repr(holder)
