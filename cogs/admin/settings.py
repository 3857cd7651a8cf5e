"""/settings: the moderator channel, where /imagine works, the time zone, pausing, the prompt filter and styles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import reply_privately
from bot.servers import MAX_TERM_CHARS
from bot.styles import MAX_NAME_CHARS, MAX_TEMPLATE_CHARS, PLACEHOLDER
from cogs.checks import CARD_PERMISSIONS, guild_of, missing_permissions, require_admin, spoken_list

if TYPE_CHECKING:
    from bot.bot import ImagineBot

_REMIND = " No moderator channel is set: safety reports wait in /review pending until you set one."


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Settings(commands.GroupCog, group_name="settings", group_description="How imagine-bot works in this server"):
    channels = app_commands.Group(name="channels", description="Where /imagine may be used")
    blocked_terms = app_commands.Group(name="blocked-terms", description="Words this server does not allow in prompts")
    styles = app_commands.Group(name="styles", description="Named prompt templates members pick in /imagine")

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.servers = bot.servers
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return require_admin(interaction)

    @app_commands.command(name="mod-channel", description="Where safety reports are posted for moderators")
    async def mod_channel(self, interaction: discord.Interaction[ImagineBot], channel: discord.TextChannel) -> None:
        await self.servers.set_mod_channel(guild_of(interaction), channel.id)
        missing = missing_permissions(interaction.guild, channel.id, CARD_PERMISSIONS)
        if missing is None:
            after = " Make sure the bot may send messages, embed links and attach files there."
        elif missing:
            after = (
                f" The bot lacks {spoken_list(missing)} there: until it has them, cards cannot be posted and "
                "reports wait in /review pending."
            )
        else:
            after = " The bot may post cards there."
        await reply_privately(interaction, f"Safety reports will be posted in {channel.mention}.{after}")

    @app_commands.command(name="timezone", description="The time zone whose midnight starts a new budget day")
    @app_commands.describe(zone="An IANA time zone, like Europe/Berlin")
    async def timezone(self, interaction: discord.Interaction[ImagineBot], zone: str) -> None:
        name = await self.servers.set_timezone(guild_of(interaction), zone)
        await self._say(interaction, f"Budget days now start at midnight in {name}.")

    @timezone.autocomplete("zone")
    async def timezone_choices(
        self, interaction: discord.Interaction[ImagineBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=name) for name in self.servers.timezones_like(current)]

    @app_commands.command(name="pause", description="Stop /imagine in this server until resumed")
    async def pause(self, interaction: discord.Interaction[ImagineBot]) -> None:
        await self.servers.set_paused(guild_of(interaction), True)
        await self._say(interaction, "/imagine is paused in this server; images already on their way still arrive.")

    @app_commands.command(name="resume", description="Allow /imagine again")
    async def resume(self, interaction: discord.Interaction[ImagineBot]) -> None:
        await self.servers.set_paused(guild_of(interaction), False)
        await self._say(interaction, "/imagine is on again.")

    @app_commands.command(name="safety-charged", description="Whether prompts failing the safety check are charged")
    async def safety_charged(self, interaction: discord.Interaction[ImagineBot], charged: bool) -> None:
        await self.servers.set_safety_charged(guild_of(interaction), charged)
        await self._say(
            interaction,
            "Prompts that fail the safety check now count against budgets."
            if charged
            else "Prompts that fail the safety check are not charged.",
        )

    @channels.command(
        name="add", description="Allow /imagine in a channel (it is allowed everywhere until you add one)"
    )
    async def channels_add(self, interaction: discord.Interaction[ImagineBot], channel: discord.TextChannel) -> None:
        added, allowed = await self.servers.allow_channel(guild_of(interaction), channel.id)
        lead = f"/imagine is allowed in {channel.mention}" if added else f"{channel.mention} was allowed already"
        await self._say(interaction, f"{lead}; it now works only in {_channels(allowed)}.")

    @channels.command(name="remove", description="Stop allowing /imagine in a channel")
    async def channels_remove(self, interaction: discord.Interaction[ImagineBot], channel: discord.TextChannel) -> None:
        removed, allowed = await self.servers.disallow_channel(guild_of(interaction), channel.id)
        lead = f"{channel.mention} is no longer on the list" if removed else f"{channel.mention} was not on the list"
        where = f"it works only in {_channels(allowed)}" if allowed else "/imagine works in every channel again"
        await self._say(interaction, f"{lead}; {where}.")

    @channels.command(name="list", description="Where /imagine may be used")
    async def channels_list(self, interaction: discord.Interaction[ImagineBot]) -> None:
        allowed = await self.servers.allowed_channels(guild_of(interaction))
        await self._say(
            interaction,
            f"/imagine works only in {_channels(allowed)}." if allowed else "/imagine works in every channel.",
        )

    @blocked_terms.command(name="add", description="Refuse prompts containing a word or phrase")
    async def terms_add(
        self, interaction: discord.Interaction[ImagineBot], term: app_commands.Range[str, 1, MAX_TERM_CHARS]
    ) -> None:
        added, stored = await self.servers.add_blocked_term(guild_of(interaction), term)
        await self._say(
            interaction,
            f"Prompts with “{discord.utils.escape_markdown(stored)}” are refused now "
            "(also spelled with accents, symbols or dots)."
            if added
            else "That term is blocked already.",
        )

    @blocked_terms.command(name="remove", description="Allow a blocked word or phrase again")
    async def terms_remove(self, interaction: discord.Interaction[ImagineBot], term: str) -> None:
        removed = await self.servers.remove_blocked_term(guild_of(interaction), term)
        await self._say(interaction, "That term is allowed again." if removed else "That term was not blocked.")

    @blocked_terms.command(name="list", description="The words and phrases this server refuses")
    async def terms_list(self, interaction: discord.Interaction[ImagineBot]) -> None:
        terms = await self.servers.blocked_terms(guild_of(interaction))
        if not terms:
            await self._say(interaction, "No terms are blocked; the image service's own safety check still applies.")
            return
        shown = ", ".join(f"||{discord.utils.escape_markdown(term)}||" for term in terms)
        await self._say(interaction, f"Blocked terms ({len(terms)}): {shown}"[:1900])

    @styles.command(name="add", description="Add a style, or change the template of one")
    @app_commands.describe(
        name="What members pick in /imagine's style option",
        template=f"The prompt around the member's words: it must contain {PLACEHOLDER} once",
    )
    async def styles_add(
        self,
        interaction: discord.Interaction[ImagineBot],
        name: app_commands.Range[str, 1, MAX_NAME_CHARS],
        template: app_commands.Range[str, 1, MAX_TEMPLATE_CHARS],
    ) -> None:
        style, new = await self.bot.styles.add(guild_of(interaction), name, template)
        shown = discord.utils.escape_markdown(style.name)
        lead = f"Style “{shown}” added" if new else f"Style “{shown}” now has this template"
        await self._say(interaction, f"{lead}: {_template(style.template)}")

    @styles.command(name="remove", description="Remove a style (images made with it stay)")
    async def styles_remove(self, interaction: discord.Interaction[ImagineBot], name: str) -> None:
        removed = await self.bot.styles.remove(guild_of(interaction), name)
        await self._say(interaction, "That style is removed." if removed else "There is no style of that name.")

    @styles_remove.autocomplete("name")
    async def style_names(
        self, interaction: discord.Interaction[ImagineBot], current: str
    ) -> list[app_commands.Choice[str]]:
        names = await self.bot.styles.names_like(guild_of(interaction), current)
        return [app_commands.Choice(name=name, value=name) for name in names]

    @styles.command(name="list", description="The styles members can pick in /imagine")
    async def styles_list(self, interaction: discord.Interaction[ImagineBot]) -> None:
        styles = await self.bot.styles.all(guild_of(interaction))
        if not styles:
            await self._say(interaction, "This server has no styles; add one with /settings styles add.")
            return
        lines = [
            f"**{discord.utils.escape_markdown(style.name)}**: {_template(style.template, 40)}" for style in styles
        ]
        await self._say(interaction, (f"Styles ({len(styles)}):\n" + "\n".join(lines))[:1900])

    async def _say(self, interaction: discord.Interaction[ImagineBot], text: str) -> None:
        """Reply privately, reminding the admin to choose a moderator channel while there is none."""
        settings = await self.servers.settings(guild_of(interaction))
        await reply_privately(interaction, text if settings.mod_channel_id else text + _REMIND)


def _channels(ids: list[int]) -> str:
    return ", ".join(f"<#{channel}>" for channel in ids)


def _template(template: str, limit: int = 1500) -> str:
    """A template shown as text, never as markdown or mentions."""
    shown = discord.utils.escape_mentions(discord.utils.escape_markdown(template))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
