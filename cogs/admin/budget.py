"""/budget: daily budgets per member, role and server, and spend reports."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import reply_privately
from bot.errors import discord_time
from bot.models import OverrideKind
from bot.money import Money
from bot.reports import spend_chart, spend_csv
from cogs.checks import guild_of, require_admin

if TYPE_CHECKING:
    from bot.bot import ImagineBot

_AMOUNT = "US dollars per day, like 0.08 or $1.50 (0 means none at all)"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Budget(commands.GroupCog, group_name="budget", group_description="Daily image budgets and spend reports"):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.servers = bot.servers
        self.ledger = bot.ledger
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return require_admin(interaction)

    @app_commands.command(name="show", description="This server's budgets, settings and today's spend")
    async def show(self, interaction: discord.Interaction[ImagineBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = guild_of(interaction)
        overview = await self.servers.overview(guild_id)
        settings = overview.settings
        today = await self.ledger.guild_usage(guild_id)
        top = (await self.ledger.report(guild_id, days=1)).by_member()
        member_default = (
            str(settings.member_daily_limit)
            if settings.member_daily_limit is not None
            else f"{self.ledger.defaults.member_daily_limit} (the bot's default)"
        )
        embed = discord.Embed(title="Image budgets", colour=discord.Colour.blurple())
        embed.add_field(name="Per member", value=member_default)
        embed.add_field(name="Server", value=str(today.limit) if today.limit is not None else "no limit")
        embed.add_field(name="Time zone", value=settings.timezone)
        spent_line = f"{today.spent} on {today.images} images"
        if today.reserved:
            spent_line += f", {today.reserved} in progress"
        embed.add_field(name="Today", value=f"{spent_line}; resets {discord_time(today.resets_at)}", inline=False)
        if top:
            member, spent, images = top[0]
            embed.add_field(name="Top spender today", value=f"<@{member}>: {spent} ({images} images)", inline=False)
        roles = [f"<@&{o.target_id}> {o.daily_limit}" for o in overview.overrides if o.kind is OverrideKind.ROLE]
        members = [f"<@{o.target_id}> {o.daily_limit}" for o in overview.overrides if o.kind is OverrideKind.MEMBER]
        embed.add_field(name="Role budgets", value=_listing(roles, "none"), inline=False)
        embed.add_field(name="Member budgets", value=_listing(members, "none"), inline=False)
        state = "paused" if settings.paused else "on"
        where = _listing([f"<#{c}>" for c in overview.channels], "every channel")
        embed.add_field(name="/imagine", value=f"{state}, in {where}", inline=False)
        embed.add_field(name="Safety failures", value="charged" if settings.safety_charged else "not charged")
        moderators = (
            f"<#{settings.mod_channel_id}>"
            if settings.mod_channel_id
            else "not set: reports wait in /review pending; set one with /settings mod-channel"
        )
        if settings.mod_channel_id and (problem := await self.servers.card_problem(guild_id)):
            moderators += f"\n⚠️ {problem}: check the bot's permissions there; reports wait in /review pending"
        embed.add_field(name="Moderator channel", value=moderators[:1024])
        await reply_privately(interaction, embed=embed)

    @app_commands.command(
        name="member-default", description="The daily budget of every member without one of their own"
    )
    @app_commands.describe(amount=_AMOUNT)
    async def member_default(self, interaction: discord.Interaction[ImagineBot], amount: str) -> None:
        limit = Money.parse(amount)
        await self.servers.set_member_default(guild_of(interaction), limit)
        text = (
            f"Members may now spend {limit} a day each."
            if limit
            else "Nobody may generate images now, unless a role or member budget says otherwise."
        )
        await reply_privately(interaction, text)

    @app_commands.command(name="server", description="The most the whole server may spend a day")
    @app_commands.describe(amount=_AMOUNT)
    async def server(self, interaction: discord.Interaction[ImagineBot], amount: str) -> None:
        limit = Money.parse(amount)
        await self.servers.set_server_budget(guild_of(interaction), limit)
        await reply_privately(interaction, f"This server may now spend {limit} a day.")

    @app_commands.command(name="server-clear", description="Remove the server's own daily budget")
    async def server_clear(self, interaction: discord.Interaction[ImagineBot]) -> None:
        await self.servers.set_server_budget(guild_of(interaction), None)
        fallback = self.ledger.defaults.guild_daily_limit
        text = f"the bot's default of {fallback} a day applies" if fallback else "there is no server-wide limit"
        await reply_privately(interaction, f"The server budget is cleared; {text}.")

    @app_commands.command(name="role", description="A daily budget for members with a role")
    @app_commands.describe(role="The role", amount=_AMOUNT)
    async def role(self, interaction: discord.Interaction[ImagineBot], role: discord.Role, amount: str) -> None:
        limit = Money.parse(amount)
        await self.servers.set_override(guild_of(interaction), OverrideKind.ROLE, role.id, limit)
        await reply_privately(
            interaction,
            f"Members with {role.mention} may now spend {limit} a day (the most generous of their roles applies).",
        )

    @app_commands.command(name="role-clear", description="Remove a role's daily budget")
    async def role_clear(self, interaction: discord.Interaction[ImagineBot], role: discord.Role) -> None:
        removed = await self.servers.clear_override(guild_of(interaction), OverrideKind.ROLE, role.id)
        await reply_privately(
            interaction,
            f"{role.mention} {'has' if removed else 'had'} no budget of its own{' now' if removed else ''}.",
        )

    @app_commands.command(name="member", description="A daily budget for one member, above any role's")
    @app_commands.describe(member="The member", amount=_AMOUNT)
    async def member(self, interaction: discord.Interaction[ImagineBot], member: discord.Member, amount: str) -> None:
        limit = Money.parse(amount)
        await self.servers.set_override(guild_of(interaction), OverrideKind.MEMBER, member.id, limit)
        await reply_privately(interaction, f"{member.mention} may now spend {limit} a day.")

    @app_commands.command(name="member-clear", description="Remove a member's own daily budget")
    async def member_clear(self, interaction: discord.Interaction[ImagineBot], member: discord.Member) -> None:
        removed = await self.servers.clear_override(guild_of(interaction), OverrideKind.MEMBER, member.id)
        await reply_privately(
            interaction,
            f"{member.mention} {'has' if removed else 'had'} no budget of their own{' now' if removed else ''}.",
        )

    @app_commands.command(name="report", description="Spend per member and per day, with a CSV and a chart")
    @app_commands.describe(days="How many days back, today included (7 if you do not say)")
    async def report(
        self, interaction: discord.Interaction[ImagineBot], days: app_commands.Range[int, 1, 90] = 7
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.ledger.report(guild_of(interaction), days)
        members = report.by_member()
        embed = discord.Embed(title=f"Spend, {report.first_day} to {report.last_day}", colour=discord.Colour.blurple())
        embed.add_field(name="Total", value=f"{report.total_spent} on {report.total_images} images")
        embed.add_field(name="Members", value=str(len(members)))
        top = [f"<@{member}>: {spent} ({images} images)" for member, spent, images in members[:10]]
        embed.add_field(name="Top members", value=_listing(top, "nobody generated anything"), inline=False)
        embed.set_image(url="attachment://spend.png")
        chart = spend_chart(report, f"Spend per day, {report.first_day} to {report.last_day}")
        await reply_privately(
            interaction,
            embed=embed,
            files=[
                discord.File(io.BytesIO(spend_csv(report)), filename=f"spend-{report.first_day}-{report.last_day}.csv"),
                discord.File(io.BytesIO(chart), filename="spend.png"),
            ],
        )


def _listing(lines: list[str], empty: str, limit: int = 1000) -> str:
    if not lines:
        return empty
    text = ""
    for index, line in enumerate(lines):
        if len(text) + len(line) + 20 > limit:
            return text + f"… and {len(lines) - index} more"
        text += ("\n" if text else "") + line
    return text
