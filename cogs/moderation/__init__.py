"""Moderators' tools: review cards for safety failures and reports, /review, blocks and appeals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.moderation.appeals import DYNAMIC_ITEMS as APPEAL_ITEMS
from cogs.moderation.cards import ReviewButton
from cogs.moderation.cog import Review

if TYPE_CHECKING:
    from bot.bot import ImagineBot


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(ReviewButton, *APPEAL_ITEMS)
    await bot.add_cog(Review(bot))


async def teardown(bot: ImagineBot) -> None:
    bot.remove_dynamic_items(ReviewButton, *APPEAL_ITEMS)
