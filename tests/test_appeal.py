"""Appeals: a blocked member's Ask for a review, the card it posts, and the moderators' Lift and Keep."""

from __future__ import annotations

import pytest

from bot.errors import NotAllowedError
from bot.models import AppealState
from bot.money import Money
from bot.simulator import Endpoint
from tests.discord_standin import MEMBER_PERMISSIONS, MODERATE_MEMBERS, Interaction, StoredMessage
from tests.harness import ALICE, BOB, GUILD, MOD, MOD_CHANNEL, Harness, MemberRef
from tests.test_moderation import cards, field, set_mod_channel

MODERATOR = MEMBER_PERMISSIONS | MODERATE_MEMBERS


async def block_bob(harness: Harness) -> int:
    await harness.answer(
        await harness.slash(
            "review block", user=MOD, permissions=MODERATOR, member=MemberRef(BOB), hours=48.0, reason="spam links"
        )
    )
    block = await harness.moderation.active_block(GUILD, BOB)
    assert block is not None
    return block.id


async def refused(harness: Harness) -> tuple[Interaction, StoredMessage]:
    interaction = await harness.imagine("a cat", user=BOB)
    return interaction, await harness.answer(interaction)


async def appeal_state(harness: Harness, block_id: int) -> AppealState | None:
    async with harness.storage.reading() as tx:
        appeal = await tx.appeals.get(block_id)
    return None if appeal is None else appeal.state


async def test_a_blocked_member_asks_once_and_a_moderator_keeps_the_block_after_a_restart(harness: Harness) -> None:
    await set_mod_channel(harness)
    block_id = await block_bob(harness)
    _, first = await refused(harness)
    _, second = await refused(harness)
    assert first.content.startswith("You are blocked from generating images in this server until <t:")
    assert first.content.endswith(" You can ask the moderators for a review.")
    assert first.custom_ids() == [f"review:appeal:{block_id}"]
    assert first.components[0]["components"][0]["label"] == "Ask for a review"

    await harness.stop()
    await harness.start()
    stranger = await harness.answer(await harness.standin.click(first.id, first.custom_ids()[0], user=ALICE))
    assert stranger.content == "Only the blocked member can ask for a review of their block."
    assert await appeal_state(harness, block_id) is None and harness.standin.visible(MOD_CHANNEL) == []

    press = await harness.standin.click(first.id, first.custom_ids()[0], user=BOB)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    assert first.content.startswith("You asked the moderators for a review of your block")
    assert first.custom_ids() == []
    (card,) = await cards(harness)
    assert card.embeds[0]["title"] == "A blocked member asks for a review"
    assert field(card, "Member") == f"<@{BOB}>" and field(card, "Reason") == "spam links"
    assert f"by <@{MOD}>" in field(card, "Block") and field(card, "Status") == "Open"
    assert card.custom_ids() == [f"appeal:lift:{block_id}", f"appeal:keep:{block_id}"]

    again = await harness.answer(await harness.standin.click(second.id, second.custom_ids()[0], user=BOB))
    assert again.content == "You already asked for a review of this block; the moderators have it."
    assert len(harness.standin.visible(MOD_CHANNEL)) == 1
    _, pending = await refused(harness)
    assert "You asked for a review <t:" in pending.content and "waiting for the moderators" in pending.content
    assert pending.custom_ids() == []

    keep = f"appeal:keep:{block_id}"
    member = await harness.answer(await harness.standin.click(card.id, keep, user=ALICE))
    assert member.content == "Only moderators can decide on appeals."
    assert await appeal_state(harness, block_id) is AppealState.OPEN and field(card, "Status") == "Open"

    await harness.stop()
    await harness.start()
    decided = await harness.standin.click(card.id, keep, user=MOD, permissions=MODERATOR)
    await harness.standin.wait_for(lambda: decided.response_type == 7)
    assert field(card, "Status").startswith(f"Block kept by <@{MOD}>") and card.custom_ids() == []
    assert await appeal_state(harness, block_id) is AppealState.KEPT
    _, kept = await refused(harness)
    assert "A moderator reviewed it <t:" in kept.content and kept.content.endswith("and kept the block.")
    assert kept.custom_ids() == []
    assert harness.simulator.count(Endpoint.SUBMIT) == 0
    assert (await harness.ledger.usage(GUILD, BOB)).reserved == Money(0)


async def test_lifting_on_the_appeal_lets_the_member_generate_again(harness: Harness) -> None:
    await set_mod_channel(harness)
    block_id = await block_bob(harness)
    _, refusal = await refused(harness)
    await harness.standin.click(refusal.id, refusal.custom_ids()[0], user=BOB)
    (card,) = await cards(harness)
    lift = await harness.standin.click(card.id, f"appeal:lift:{block_id}", user=MOD, permissions=MODERATOR)
    await harness.standin.wait_for(lambda: lift.response_type == 7)
    assert field(card, "Status").startswith(f"Block lifted by <@{MOD}>")
    assert await harness.moderation.active_block(GUILD, BOB) is None
    assert card.custom_ids() == []
    await harness.reply(await harness.imagine("a cat", user=BOB))
    assert (await harness.ledger.usage(GUILD, BOB)).spent == Money(8_000)


async def test_without_a_moderator_channel_no_review_is_offered(harness: Harness) -> None:
    """Nobody would see the card, so the button would only promise a review that never comes."""
    await block_bob(harness)
    _, refusal = await refused(harness)
    assert refusal.content.startswith("You are blocked from generating images in this server until <t:")
    assert "review" not in refusal.content and refusal.custom_ids() == []


async def test_an_appeal_whose_card_never_reached_the_moderators_can_be_sent_again(harness: Harness) -> None:
    """The appeal is recorded before its card is posted: if the post fails (or the process stops in between),
    the member's next refusal offers the button again, and the press posts the card."""
    await set_mod_channel(harness)
    block_id = await block_bob(harness)
    _, first = await refused(harness)
    harness.standin.fail("POST", rf"/channels/{MOD_CHANNEL}/messages$", 403, code=50013)
    press = await harness.standin.click(first.id, first.custom_ids()[0], user=BOB)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    assert await appeal_state(harness, block_id) is AppealState.OPEN and harness.standin.visible(MOD_CHANNEL) == []

    _, again = await refused(harness)
    assert again.custom_ids() == [f"review:appeal:{block_id}"]
    assert "has not reached the moderators" in again.content
    press = await harness.standin.click(again.id, again.custom_ids()[0], user=BOB)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    (card,) = await cards(harness)
    assert card.custom_ids() == [f"appeal:lift:{block_id}", f"appeal:keep:{block_id}"]
    _, pending = await refused(harness)
    assert "waiting for the moderators" in pending.content and pending.custom_ids() == []


async def test_a_decision_pressed_in_another_server_changes_nothing(harness: Harness) -> None:
    """Moderating one server says nothing about another's blocks."""
    await set_mod_channel(harness)
    block_id = await block_bob(harness)
    _, first = await refused(harness)
    press = await harness.standin.click(first.id, first.custom_ids()[0], user=BOB)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    with pytest.raises(NotAllowedError, match="not from this server"):
        await harness.bot.appeals.decide(block_id, lift=True, moderator_id=MOD, guild_id=GUILD + 1)
    assert await appeal_state(harness, block_id) is AppealState.OPEN
    assert await harness.moderation.active_block(GUILD, BOB) is not None
