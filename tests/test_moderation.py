"""Review cards, moderators' decisions, blocks and the prompt filter, through the real discord.py."""

from __future__ import annotations

import asyncio

from bot.models import ReportSource, ReportState
from bot.money import Money
from bot.simulator import Endpoint
from tests.discord_standin import MANAGE_GUILD, MEMBER_PERMISSIONS, MODERATE_MEMBERS, StoredMessage
from tests.harness import ALICE, BOB, GUILD, MOD, MOD_CHANNEL, ChannelRef, Harness, MemberRef

MODERATOR = MEMBER_PERMISSIONS | MODERATE_MEMBERS
ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD


async def set_mod_channel(harness: Harness) -> None:
    await harness.answer(
        await harness.slash("settings mod-channel", permissions=ADMIN, channel=ChannelRef(MOD_CHANNEL))
    )


async def cards(harness: Harness, count: int = 1) -> list[StoredMessage]:
    await harness.standin.wait_for(lambda: len(harness.standin.visible(MOD_CHANNEL)) >= count)
    return harness.standin.visible(MOD_CHANNEL)


def field(card: StoredMessage, name: str) -> str:
    return str(next(f["value"] for f in card.embeds[0]["fields"] if f["name"] == name))


async def refusal(harness: Harness, prompt: str, user: int = ALICE) -> str:
    interaction = await harness.imagine(prompt, user=user)
    await harness.standin.wait_for(lambda: bool(harness.private_texts(interaction)))
    return harness.private_texts(interaction)[0]


async def test_a_safety_failure_posts_a_card_with_everything_a_moderator_needs(harness: Harness) -> None:
    await set_mod_channel(harness)
    await harness.imagine("something forbidden and @everyone")
    (card,) = await cards(harness)
    assert field(card, "Member") == f"<@{ALICE}>"
    assert field(card, "Prompt").startswith("||something forbidden") and field(card, "Prompt").endswith("||")
    assert field(card, "Reason") == "Prompt failed safety check. Please refine your input."
    assert field(card, "Safety failures, last 7 days") == "1"
    assert [c.split(":")[1] for c in card.custom_ids()] == ["dismiss", "block24h", "block7d", "blockperm"]
    assert card.allowed_mentions == {"parse": []}  # the member is named, not pinged


async def test_a_moderator_press_after_a_restart_blocks_and_leaves_only_unblock(harness: Harness) -> None:
    await set_mod_channel(harness)
    await harness.imagine("something forbidden")
    (card,) = await cards(harness)
    await harness.stop()
    await harness.start()
    block_button = next(c for c in card.custom_ids() if ":block24h:" in c)

    stranger = await harness.standin.click(card.id, block_button, user=BOB)
    answer = await harness.answer(stranger)
    assert answer.content == "Only moderators can decide on reports."
    assert await harness.moderation.active_block(GUILD, ALICE) is None

    press = await harness.standin.click(card.id, block_button, user=MOD, permissions=MODERATOR)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    assert f"Block 24 h by <@{MOD}>" in field(card, "Status") and "Member blocked until" in field(card, "Status")
    assert [c.split(":")[1] for c in card.custom_ids()] == ["unblock"]
    assert "You are blocked from generating images in this server until" in await refusal(harness, "a cat")
    async with harness.storage.transaction() as tx:
        (report,) = await tx.moderation.reports(GUILD)
    assert (report.state, report.moderator_id, report.decision) == (ReportState.ACTIONED, MOD, "block24h")

    unblock = await harness.standin.click(card.id, card.custom_ids()[0], user=MOD, permissions=MODERATOR)
    await harness.standin.wait_for(lambda: unblock.response_type == 7)
    assert card.custom_ids() == []
    await harness.reply(await harness.imagine("a cat"))


async def test_dismiss_records_who_decided_and_removes_the_buttons(harness: Harness) -> None:
    await set_mod_channel(harness)
    await harness.imagine("something forbidden")
    (card,) = await cards(harness)
    dismiss = next(c for c in card.custom_ids() if ":dismiss:" in c)
    press = await harness.standin.click(card.id, dismiss, user=MOD, permissions=ADMIN)  # admins moderate too
    await harness.standin.wait_for(lambda: press.response_type == 7)
    assert field(card, "Status").startswith(f"Dismiss by <@{MOD}>")
    assert card.custom_ids() == []


async def test_repeated_failures_block_automatically_until_the_block_expires(harness: Harness) -> None:
    await set_mod_channel(harness)
    for attempt in range(3):
        interaction = await harness.imagine(f"forbidden {attempt}")
        await harness.final((await harness.job_of(interaction)).id)
    third = (await cards(harness, 3))[-1]
    assert "Member blocked until" in field(third, "Status") and "(automatically)" in field(third, "Status")
    assert [c.split(":")[1] for c in third.custom_ids()] == ["unblock"]
    text = await refusal(harness, "a harmless cat")
    assert text.startswith("You are blocked from generating images in this server until <t:")
    submits = harness.simulator.count(Endpoint.SUBMIT)
    harness.clock.advance(hours=24, minutes=1)
    await harness.reply(await harness.imagine("a harmless cat"))
    assert harness.simulator.count(Endpoint.SUBMIT) == submits + 1


async def test_a_blocked_term_is_refused_before_money_and_queued_for_review(harness: Harness) -> None:
    await set_mod_channel(harness)
    await harness.answer(await harness.slash("settings blocked-terms add", permissions=ADMIN, term="banana"))
    text = await refusal(harness, "a B4N.A.N.A split")
    assert text.startswith("Your prompt contains a term this server does not allow")
    (card,) = await cards(harness)
    assert card.embeds[0]["title"] == "Prompt refused by the server's blocked terms"
    assert "banana" in field(card, "Reason")
    assert harness.simulator.count(Endpoint.SUBMIT) == 0
    assert (await harness.ledger.usage(GUILD, ALICE)).reserved == Money(0)
    await harness.reply(await harness.imagine("a bandana"))  # not the same word


async def test_reports_queue_without_a_moderator_channel_and_review_lists_them(harness: Harness) -> None:
    await harness.imagine("forbidden one")
    await harness.imagine("forbidden two", user=BOB)
    async with asyncio.timeout(10):
        while (await harness.moderation.pending(GUILD, 1))[1] < 2:
            await asyncio.sleep(0.05)
    listing = await harness.answer(await harness.slash("review pending", user=MOD, permissions=MODERATOR))
    assert listing.embeds[0]["title"] == "Pending reports: 2"
    assert len(listing.embeds[0]["fields"]) == 2
    refused = await harness.answer(await harness.slash("review pending", user=BOB))
    assert refused.content == "You need the Moderate Members permission to do that."
    assert harness.standin.visible(MOD_CHANNEL) == []


async def test_review_block_history_and_unblock(harness: Harness) -> None:
    blocked = await harness.answer(
        await harness.slash(
            "review block", user=MOD, permissions=MODERATOR, member=MemberRef(BOB), hours=2.0, reason="spam"
        )
    )
    assert blocked.content.startswith(f"<@{BOB}> is blocked from generating images until")
    assert "blocked" in await refusal(harness, "a cat", user=BOB)
    history = await harness.answer(
        await harness.slash("review history", user=MOD, permissions=MODERATOR, member=MemberRef(BOB))
    )
    blocks = next(f["value"] for f in history.embeds[0]["fields"] if f["name"] == "Blocks")
    assert f"<@{MOD}>" in blocks
    lifted = await harness.answer(
        await harness.slash("review unblock", user=MOD, permissions=MODERATOR, member=MemberRef(BOB))
    )
    assert lifted.content == f"<@{BOB}> may generate images again."
    await harness.reply(await harness.imagine("a cat", user=BOB))


async def test_the_report_button_posts_a_card(harness: Harness) -> None:
    await set_mod_channel(harness)
    message = await harness.reply(await harness.imagine("a lighthouse"))
    report = next(c for c in message.custom_ids() if c.startswith("imagine:report:"))
    await harness.answer(await harness.standin.click(message.id, report, user=BOB))
    (card,) = await cards(harness)
    assert card.embeds[0]["title"] == "Image reported by a member"
    assert field(card, "Reported by") == f"<@{BOB}>"
    async with asyncio.timeout(5):
        while (stored := await harness.moderation.report(1)) is None or stored.card_message_id is None:
            await asyncio.sleep(0.02)  # the card's id is recorded just after it is posted
    assert stored.source is ReportSource.MEMBER and stored.card_message_id == card.id


async def test_report_presses_make_one_report_per_image_and_say_when_it_was_reviewed(harness: Harness) -> None:
    await set_mod_channel(harness)
    message = await harness.reply(await harness.imagine("a lighthouse"))
    report = next(c for c in message.custom_ids() if c.startswith("imagine:report:"))
    first = await harness.answer(await harness.standin.click(message.id, report, user=BOB))
    assert first.content == "Thanks; the moderators will take a look."
    (card,) = await cards(harness)
    again = await harness.answer(await harness.standin.click(message.id, report, user=MOD))
    assert again.content == "Thanks; this image was reported already and is waiting for the moderators."
    dismiss = next(c for c in card.custom_ids() if ":dismiss:" in c)
    press = await harness.standin.click(card.id, dismiss, user=MOD, permissions=MODERATOR)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    late = await harness.answer(await harness.standin.click(message.id, report, user=BOB))
    assert late.content == "A moderator already reviewed this image."
    async with harness.storage.transaction() as tx:
        assert len(await tx.moderation.reports(GUILD)) == 1
    assert harness.standin.visible(MOD_CHANNEL) == [card]


async def test_review_is_shown_by_default_to_everyone_the_bot_treats_as_a_moderator(harness: Harness) -> None:
    (review,) = [command for command in harness.standin.commands if command["name"] == "review"]
    required = review.get("default_member_permissions")

    def shown_to(permissions: int) -> bool:  # Discord shows a command to members holding every required bit
        return required is None or permissions & int(required) == int(required)

    assert shown_to(MEMBER_PERMISSIONS | MODERATE_MEMBERS) and shown_to(MEMBER_PERMISSIONS | MANAGE_GUILD)
    refused = await harness.slash("review pending", permissions=MEMBER_PERMISSIONS)
    assert "You need the Moderate Members permission" in (await harness.answer(refused)).content
