"""The base of every button the bot posts: a `DynamicItem` whose errors all reach the one translator.

discord.py only logs an exception raised in a `DynamicItem`'s callback; here every press goes through
`explain`, which answers the member privately, whatever went wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import discord

from bot.bot import explain

if TYPE_CHECKING:
    from bot.bot import ImagineBot


# The base's own template matches no custom_id: only its subclasses, with templates of their own, are registered.
class PersistentButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.pressed(cast("discord.Interaction[ImagineBot]", interaction))
        except Exception as exc:  # noqa: BLE001 - the translator decides what the member is told
            await explain(interaction, exc)

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        raise NotImplementedError
