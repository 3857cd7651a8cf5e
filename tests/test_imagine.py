"""/imagine end to end: the real discord.py bot, the Discord stand-in, the Pixazo simulator, real SQLite."""

from __future__ import annotations

import itertools
import json

import pytest

from bot.models import JobState
from bot.money import Money
from bot.simulator import Endpoint, Fault, FaultKind, Simulator, SimulatorSettings
from tests.conftest import TEST_KEY
from tests.discord_standin import MEMBER_PERMISSIONS, MODERATE_MEMBERS, DiscordStandin, Interaction
from tests.harness import ALICE, BOB, CHANNEL, DISCORD_TOKEN, GUILD, OTHER_CHANNEL, Harness


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.4)


async def test_happy_path_defers_first_shows_the_queue_and_attaches_the_exact_png(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse at dusk")
    message = await harness.reply(interaction)
    job = await harness.final((await harness.job_of(interaction)).id)
    assert job.request_id is not None
    (image,) = message.files
    assert image.data == harness.simulator.images_of(job.request_id)[0]
    usage = await harness.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved) == (Money(8_000), Money(0))


def titles(harness: Harness, interaction: Interaction) -> list[str]:
    """Every title the member's reply showed, in order (from the edits the bot sent)."""
    shown = []
    for request in harness.standin.requests_to(rf"/webhooks/\d+/{interaction.token}/messages/", "PATCH"):
        for embed in (request.json or {}).get("embeds") or []:
            shown.append(embed.get("title", ""))
    return shown


async def test_the_deferral_comes_before_any_other_work(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse at dusk")
    await harness.reply(interaction)
    assert interaction.acked_at is not None
    callback = harness.standin.requests_to(rf"/interactions/{interaction.id}/")[0]
    assert callback.json["type"] == 5  # a public "thinking…" deferral
    # nothing else reached Discord or Pixazo between the command arriving and its deferral
    arrivals = [r.at for r in harness.standin.requests] + [r.at for r in harness.simulator.requests]
    between = [at for at in arrivals if interaction.created < at < callback.at]
    assert between == []
    first_submit = next(r for r in harness.simulator.requests if r.endpoint == Endpoint.SUBMIT)
    assert callback.at < first_submit.at  # how fast it is acknowledged is measured by bench/imagine_bench.py


async def test_edits_show_the_queue_positions_the_simulator_reported(harness: Harness) -> None:
    harness.simulator.add_backlog(5)
    interaction = await harness.imagine("a lighthouse at dusk")
    await harness.reply(interaction)
    job = await harness.final((await harness.job_of(interaction)).id)
    reported = harness.simulator.positions[job.request_id or ""]
    shown = [int(t.split("position ")[1].split()[0]) for t in titles(harness, interaction) if "position" in t]
    assert shown, titles(harness, interaction)
    assert all(position in reported for position in shown)
    assert shown == sorted(shown, reverse=True)
    edits = harness.standin.requests_to(rf"/webhooks/\d+/{interaction.token}/messages/", "PATCH")
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits)]
    assert all(gap > 0.9 for gap in gaps[:-1])  # at most about one edit a second (the result may follow at once)


async def test_four_images_are_attached_and_cost_four_times(harness: Harness) -> None:
    interaction = await harness.imagine("four foxes", count=4)
    message = await harness.reply(interaction)
    assert len(message.files) == 4
    assert len({f.data for f in message.files}) == 4
    await harness.final((await harness.job_of(interaction)).id)
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(32_000)
    assert message.embeds[0]["fields"][2] == {"name": "Cost", "value": "$0.032", "inline": True}


async def test_over_budget_is_refused_privately_and_nothing_reaches_pixazo(harness: Harness) -> None:
    async with harness.storage.transaction() as tx:
        await tx.guilds.update_settings(GUILD, harness.clock(), member_daily_limit=Money(0))
    interaction = await harness.imagine("a lighthouse")
    await harness.standin.wait_for(lambda: bool(harness.ephemeral_followups(interaction)))
    (refusal,) = harness.ephemeral_followups(interaction)
    assert refusal.content.startswith("Image generation is not enabled for you in this server")
    assert "<t:" in refusal.content  # the reset time, as a Discord timestamp
    original = harness.standin.messages[interaction.original_id or 0]
    assert original.deleted  # the public placeholder did not linger
    assert harness.simulator.count(Endpoint.SUBMIT) == 0


async def test_a_safety_failure_is_public_without_the_prompt_private_with_the_reason_and_free(
    harness: Harness,
) -> None:
    interaction = await harness.imagine("something forbidden and secret")
    message = await harness.reply(interaction, lambda m: bool(m.embeds) and "safety" in m.embeds[0]["title"])
    assert "forbidden" not in json.dumps(message.embeds) and "forbidden" not in message.content
    await harness.standin.wait_for(lambda: bool(harness.ephemeral_followups(interaction)))
    (private,) = harness.ephemeral_followups(interaction)
    assert "safety check" in private.content and "not charged" in private.content
    job = await harness.final((await harness.job_of(interaction)).id)
    async with harness.storage.transaction() as tx:
        (report,) = await tx.moderation.reports(GUILD)
    assert report.job_id == job.id and report.prompt == "something forbidden and secret"
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(0)


async def test_an_exhausted_balance_is_explained_privately_and_released(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=402))
    interaction = await harness.imagine("a lighthouse")
    await harness.standin.wait_for(lambda: bool(harness.ephemeral_followups(interaction)))
    (private,) = harness.ephemeral_followups(interaction)
    assert "balance has run out" in private.content
    assert any(r.levelname == "ERROR" and "balance" in r.getMessage() for r in caplog.records)
    assert (await harness.ledger.usage(GUILD, ALICE)).reserved == Money(0)


async def test_a_500_storm_fails_clearly_and_releases(harness: Harness) -> None:
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=500), times=100)
    interaction = await harness.imagine("a lighthouse")
    await harness.standin.wait_for(lambda: bool(harness.ephemeral_followups(interaction)))
    (private,) = harness.ephemeral_followups(interaction)
    assert "could not make this image" in private.content and "not charged" in private.content
    assert (await harness.ledger.usage(GUILD, ALICE)).reserved == Money(0)
    harness.simulator.clear_faults()


async def test_a_rate_limit_then_success_still_delivers(harness: Harness) -> None:
    harness.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=429, retry_after=0.1), times=2)
    interaction = await harness.imagine("a lighthouse")
    message = await harness.reply(interaction)
    assert len(message.files) == 1
    assert harness.simulator.count(Endpoint.SUBMIT) == 3


async def test_a_job_queued_when_the_bot_stops_is_delivered_once_by_the_next_bot(harness: Harness) -> None:
    harness.simulator.add_backlog(6)
    interaction = await harness.imagine("a lighthouse")
    job = await harness.job_of(interaction)
    await harness.standin.wait_for(lambda: any("Queued" in t for t in titles(harness, interaction)))
    await harness.stop()
    await harness.start()
    message = await harness.reply(interaction)
    done = await harness.final(job.id)
    assert done.images_delivered == 1
    assert len(message.files) == 1
    assert harness.simulator.count(Endpoint.SUBMIT) == 1
    assert sum(len(m.files) for m in harness.standin.messages.values()) == 1
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(8_000)


async def test_a_job_outliving_its_token_finishes_in_a_channel_message(
    bot_database: str, simulator: Simulator, sim_url: str
) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: [CHANNEL]}, token_lifetime=62)
    await standin.start()
    harness = Harness(bot_database, simulator, sim_url, standin)
    await harness.start()
    try:
        simulator.add_backlog(6)  # about 2.4 s in the queue, past the hand-off 60 s before expiry
        interaction = await harness.imagine("a slow lighthouse")
        job = await harness.job_of(interaction)
        done = await harness.final(job.id)
        assert done.delivery.channel_message_id is not None
        moved = standin.messages[done.delivery.channel_message_id]
        assert moved.interaction_id is None and len(moved.files) == 1  # the bot's own message, with the image
        pointer = standin.messages[interaction.original_id or 0]
        assert "updates continue in" in pointer.content
    finally:
        await harness.stop()
        await standin.close()


async def test_a_token_that_dies_early_still_gets_the_result_to_the_channel(harness: Harness) -> None:
    harness.simulator.add_backlog(4)
    interaction = await harness.imagine("a lighthouse")
    await harness.standin.wait_for(lambda: any("Queued" in t for t in titles(harness, interaction)))
    interaction.expires = 0  # Discord stops accepting the token sooner than expected
    job = await harness.final((await harness.job_of(interaction)).id)
    assert job.state is JobState.DELIVERED
    posted = [m for m in harness.standin.visible(CHANNEL) if m.files]
    assert len(posted) == 1 and posted[0].interaction_id is None


async def test_reroll_makes_a_new_charged_job_with_the_same_prompt(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse", seed=7)
    message = await harness.reply(interaction)
    reroll_id = next(c for c in message.custom_ids() if c.startswith("imagine:reroll:"))
    click = await harness.standin.click(message.id, reroll_id, user=BOB)
    second = await harness.reply(click)
    assert len(second.files) == 1 and second.id != message.id
    rerolled = await harness.final((await harness.job_of(click)).id)
    first = await harness.job_of(interaction)
    assert rerolled.request.prompt == "a lighthouse" and rerolled.request.parent_id == first.id
    assert rerolled.request.seed != 7 and rerolled.member_id == BOB
    assert (await harness.ledger.usage(GUILD, BOB)).spent == Money(8_000)


async def test_delete_is_refused_to_a_stranger_and_works_for_the_requester(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse")
    message = await harness.reply(interaction)
    delete_id = next(c for c in message.custom_ids() if c.startswith("imagine:delete:"))
    stranger = await harness.standin.click(message.id, delete_id, user=BOB)
    await harness.standin.wait_for(lambda: stranger.original_id is not None)
    refusal = harness.standin.messages[stranger.original_id or 0]
    assert refusal.ephemeral and "Only the member who asked" in refusal.content
    assert not message.deleted
    owner = await harness.standin.click(message.id, delete_id, user=ALICE)
    await harness.standin.wait_for(lambda: message.deleted)
    assert owner.response_type == 6


async def test_buttons_work_after_a_restart(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse")
    message = await harness.reply(interaction)
    await harness.stop()
    await harness.start()
    report_id = next(c for c in message.custom_ids() if c.startswith("imagine:report:"))
    click = await harness.standin.click(message.id, report_id, user=BOB)
    await harness.standin.wait_for(lambda: any("moderators" in t for t in harness.private_texts(click)))
    async with harness.storage.transaction() as tx:
        (report,) = await tx.moderation.reports(GUILD)
    assert report.reporter_id == BOB and report.member_id == ALICE


async def test_no_payload_lets_a_mention_ping_except_the_requester_on_the_result(harness: Harness) -> None:
    interaction = await harness.imagine("@everyone look <@&123> and <@999>")
    await harness.reply(interaction)
    await harness.imagine("x" * 10, user=BOB, count=9)  # refused: a refusal is a payload too
    await harness.standin.wait_for(lambda: len(harness.standin.requests_to(r"/webhooks/", "POST")) >= 1)
    sent = [
        r
        for r in harness.standin.requests
        if isinstance(r.json, dict) and ("content" in r.json or "embeds" in r.json or "data" in r.json)
    ]
    assert sent
    for request in sent:
        body = request.json.get("data", request.json) if "/callback" in request.path else request.json
        if not (body.get("content") or body.get("embeds")):
            continue
        mentions = body.get("allowed_mentions")
        assert mentions is not None and mentions["parse"] == [], request.path
        assert mentions.get("users", []) in ([], [str(ALICE)], [ALICE]), request.path


async def test_a_long_prompt_of_mixed_scripts_fits_every_embed_limit(harness: Harness) -> None:
    pieces = ["**bold** ", "日本語の夢 ", "ﺎﻠﻋﺮﺒﻳﺓ ", "zero\u200bwidth ", "`code` ", "_x_ ", "ñandú ", "😀 ", "\\ "]
    prompt = "".join(pieces[i % len(pieces)] for i in range(400))[:1500]
    interaction = await harness.imagine(prompt)
    message = await harness.reply(interaction)
    for request in harness.standin.requests:
        for embed in (request.json or {}).get("embeds") or [] if isinstance(request.json, dict) else []:
            assert len(embed.get("title", "")) <= 256
            assert len(embed.get("description", "")) <= 4096
            assert all(len(f["value"]) <= 1024 for f in embed.get("fields", []))
            total = (
                len(embed.get("title", ""))
                + len(embed.get("description", ""))
                + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
                + len((embed.get("footer") or {}).get("text", ""))
            )
            assert total <= 6000
    description = message.embeds[0]["description"]
    assert "日本語の夢" in description and "\u200b" not in description
    assert "\\*\\*bold\\*\\*" in description  # markdown is shown as typed, not applied


async def test_usage_shows_the_day_privately_and_others_only_to_moderators(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse")
    await harness.reply(interaction)
    mine = await harness.standin.command("usage", [], guild=GUILD, channel=CHANNEL, user=ALICE)
    await harness.standin.wait_for(lambda: (m := harness.standin.original(mine)) is not None and bool(m.embeds))
    embed = harness.standin.original(mine).embeds[0]  # type: ignore[union-attr]
    assert harness.standin.original(mine).ephemeral  # type: ignore[union-attr]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Spent today"] == "$0.008" and fields["Left"] == "$0.072 of $0.08"
    assert fields["Images today"] == "1" and fields["Resets"].startswith("<t:")
    option = [{"name": "member", "type": 6, "value": str(ALICE)}]
    resolved = {
        "users": {str(ALICE): harness.standin.user(ALICE)},
        "members": {str(ALICE): {k: v for k, v in harness.standin.member(ALICE).items() if k != "user"}},
    }
    nosy = await harness.standin.command("usage", option, guild=GUILD, channel=CHANNEL, user=BOB, resolved=resolved)
    await harness.standin.wait_for(lambda: any("Only moderators" in t for t in harness.private_texts(nosy)))
    moderator = await harness.standin.command(
        "usage",
        option,
        guild=GUILD,
        channel=CHANNEL,
        user=BOB,
        resolved=resolved,
        permissions=MEMBER_PERMISSIONS | MODERATE_MEMBERS,
    )
    await harness.standin.wait_for(lambda: (m := harness.standin.original(moderator)) is not None and bool(m.embeds))


async def test_a_channel_that_is_not_allowed_is_refused_before_money_moves(harness: Harness) -> None:
    async with harness.storage.transaction() as tx:
        await tx.guilds.allow_channel(GUILD, OTHER_CHANNEL)
    interaction = await harness.imagine("a lighthouse")
    await harness.standin.wait_for(lambda: bool(harness.ephemeral_followups(interaction)))
    assert "cannot be used in this channel" in harness.ephemeral_followups(interaction)[0].content
    assert harness.simulator.count(Endpoint.SUBMIT) == 0


async def test_commands_are_synced_once_and_not_again_on_restart(harness: Harness) -> None:
    assert harness.standin.command_puts == 1
    assert {c["name"] for c in harness.standin.commands} >= {"imagine", "usage"}
    await harness.stop()
    await harness.start()
    assert harness.standin.command_puts == 1


async def test_an_image_over_the_attachment_limit_is_linked_once_and_reroll_asks_for_a_smaller_format(
    harness: Harness,
) -> None:
    harness.standin.attachment_limit = 1000  # smaller than any image the simulator makes
    interaction = await harness.imagine("a lighthouse")
    message = await harness.reply(interaction, lambda m: bool(m.embeds) and m.embeds[0]["title"].startswith("Here"))
    assert message.files == []
    linked = next(f for f in message.embeds[0]["fields"] if f["name"] == "Too large to attach")
    assert "/_sim/images/" in linked["value"]
    reroll = next(c for c in message.custom_ids() if c.startswith("imagine:reroll:"))
    assert reroll.endswith(":jpeg")
    harness.standin.attachment_limit = 10 * 1024 * 1024
    click = await harness.standin.click(message.id, reroll, user=ALICE)
    await harness.reply(click)
    rerolled = await harness.final((await harness.job_of(click)).id)
    assert rerolled.request.output_format == "jpeg"
    submits = [r.body for r in harness.simulator.requests if r.endpoint == Endpoint.SUBMIT]
    assert submits[-1]["output_format"] == "jpeg"


async def test_a_gateway_reconnect_resumes_and_jobs_and_commands_carry_on(harness: Harness) -> None:
    harness.simulator.add_backlog(3)
    interaction = await harness.imagine("a lighthouse")
    await harness.standin.wait_for(lambda: any("Queued" in t for t in titles(harness, interaction)))
    await harness.standin.reconnect_gateway()
    await harness.standin.wait_ready()
    assert harness.standin.resumes == 1 and harness.standin.identifies == 1
    assert len((await harness.reply(interaction)).files) == 1
    assert len((await harness.reply(await harness.imagine("after the reconnect", user=BOB))).files) == 1
