"""The moderator channel: `/settings mod-channel` says what the bot lacks there; `/budget show` says when a
card could not be posted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.simulator import Simulator
from tests.discord_standin import ATTACH_FILES, EMBED_LINKS, DiscordStandin
from tests.harness import GUILD, MOD_CHANNEL, ChannelRef, Harness
from tests.test_moderation import ADMIN, set_mod_channel


async def until(harness: Harness, holds: Callable[[str | None], bool]) -> None:
    """Wait until the server's card problem, as /budget show reads it, satisfies `holds`."""
    async with asyncio.timeout(15):
        while not holds(await harness.bot.servers.card_problem(GUILD)):
            await asyncio.sleep(0.02)


async def started(bot_database: str, simulator: Simulator, sim_url: str, standin: DiscordStandin) -> Harness:
    harness = Harness(bot_database, simulator, sim_url, standin)
    await harness.start()
    return harness


async def test_mod_channel_names_what_the_bot_may_not_do_there(
    bot_database: str, simulator: Simulator, sim_url: str, standin: DiscordStandin
) -> None:
    standin.deny_bot(MOD_CHANNEL, EMBED_LINKS | ATTACH_FILES)
    harness = await started(bot_database, simulator, sim_url, standin)
    try:
        answer = await harness.answer(
            await harness.slash("settings mod-channel", permissions=ADMIN, channel=ChannelRef(MOD_CHANNEL))
        )
    finally:
        await harness.stop()
    assert "Embed Links and Attach Files" in answer.content, answer.content


async def test_mod_channel_where_the_bot_may_post_says_nothing_is_missing(harness: Harness) -> None:
    answer = await harness.answer(
        await harness.slash("settings mod-channel", permissions=ADMIN, channel=ChannelRef(MOD_CHANNEL))
    )
    assert "Safety reports will be posted in" in answer.content and "missing" not in answer.content


async def test_budget_show_says_when_a_card_could_not_be_posted(harness: Harness) -> None:
    await set_mod_channel(harness)
    harness.standin.denied_channels.add(MOD_CHANNEL)
    await harness.imagine("something forbidden")
    await until(harness, lambda problem: problem is not None)
    shown = await harness.answer(await harness.slash("budget show", permissions=ADMIN))
    (moderators,) = [f["value"] for f in shown.embeds[0]["fields"] if f["name"] == "Moderator channel"]
    assert "could not be posted" in moderators and "Missing Permissions" in moderators, moderators

    harness.standin.denied_channels.clear()
    await harness.imagine("forbidden again")
    await until(harness, lambda problem: problem is None and bool(harness.standin.visible(MOD_CHANNEL)))
    shown = await harness.answer(await harness.slash("budget show", permissions=ADMIN))
    (moderators,) = [f["value"] for f in shown.embeds[0]["fields"] if f["name"] == "Moderator channel"]
    assert "could not be posted" not in moderators  # a card that was posted clears the warning
