"""/preferences: a member's own defaults for /imagine in this server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import reply_privately
from bot.config import IMAGE_SIZE_NAMES
from bot.errors import InvalidRequestError
from bot.models import MemberPreferences
from bot.pixazo import MAX_IMAGES
from cogs.checks import guild_of

if TYPE_CHECKING:
    from bot.bot import ImagineBot

SIZE_CHOICES = [app_commands.Choice(name=name, value=name) for name in IMAGE_SIZE_NAMES]


class Preferences(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="preferences", description="Your defaults for /imagine here: shown, set or reset")
    @app_commands.guild_only()
    @app_commands.describe(
        size="The shape /imagine uses when you do not choose one",
        count="How many images /imagine makes when you do not say",
        reset="Forget your defaults here",
    )
    @app_commands.choices(size=SIZE_CHOICES)
    async def preferences(
        self,
        interaction: discord.Interaction[ImagineBot],
        size: str | None = None,  # a plain string, so that one outside the choices reaches the bot's own check
        count: app_commands.Range[int, 1, MAX_IMAGES] | None = None,
        reset: bool = False,
    ) -> None:
        guild_id, member_id = guild_of(interaction), interaction.user.id
        if reset and (size is not None or count is not None):
            raise InvalidRequestError("Choose reset or new defaults, not both at once.")
        if reset:
            had = await self.bot.preferences.reset(guild_id, member_id)
            lead = "Your defaults here are cleared" if had else "You had no defaults here"
            await reply_privately(interaction, f"{lead}; /imagine makes one square image unless you choose.")
            return
        if size is None and count is None:
            shown = await self.bot.preferences.of(guild_id, member_id)
            await reply_privately(interaction, _described(shown, "Your defaults here"))
            return
        changed = await self.bot.preferences.set(guild_id, member_id, size=size, count=count)
        await reply_privately(interaction, _described(changed, "Saved: your defaults here"))


def _described(preferences: MemberPreferences, lead: str) -> str:
    if preferences.empty:
        return "You have no defaults here; /imagine makes one square image unless you choose."
    parts = []
    if preferences.size is not None:
        parts.append(f"size {preferences.size}")
    if preferences.count is not None:
        parts.append("1 image" if preferences.count == 1 else f"{preferences.count} images")
    return f"{lead} are {' and '.join(parts)}; /imagine uses them for what you leave out."
