"""The /imagine feature: the slash commands, the result, history and forget buttons, the Vary form and the progress
presenter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.imagine.buttons import DYNAMIC_ITEMS
from cogs.imagine.cog import Imagine
from cogs.imagine.forget import DYNAMIC_ITEMS as FORGET_ITEMS
from cogs.imagine.history import DYNAMIC_ITEMS as HISTORY_ITEMS
from cogs.imagine.preferences import Preferences
from cogs.imagine.vary import Vary

if TYPE_CHECKING:
    from bot.bot import ImagineBot


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS, *HISTORY_ITEMS, *FORGET_ITEMS)
    imagine = Imagine(bot)
    await bot.add_cog(imagine)
    await bot.add_cog(Vary(bot, imagine))
    await bot.add_cog(Preferences(bot))


async def teardown(bot: ImagineBot) -> None:
    bot.remove_dynamic_items(*DYNAMIC_ITEMS, *HISTORY_ITEMS, *FORGET_ITEMS)
