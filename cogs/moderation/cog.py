"""Review cards posted for moderators, the decisions on them, and /review."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import reply_privately
from bot.errors import BotError, MemberBlockedError, discord_time
from bot.models import Appeal, Block, SafetyReport
from cogs.checks import guild_of, require_moderator
from cogs.moderation.appeals import appeal_card_view, appeal_embed, appeal_view
from cogs.moderation.cards import card_embed, card_view, spoiler

if TYPE_CHECKING:
    from bot.bot import ImagineBot

log = logging.getLogger(__name__)
PAGE_SIZE = 5


# No default_permissions: Discord shows a command only to members holding *every* bit it names, so no value
# reaches both Moderate Members and Manage Server holders. Everyone sees /review; the bot lets moderators in.
@app_commands.guild_only()
class Review(commands.GroupCog, group_name="review", group_description="Review safety reports and blocks"):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.moderation = bot.moderation
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return require_moderator(interaction)

    # --- cards ----------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_safety_report(self, report: SafetyReport, auto_block: Block | None) -> None:
        """Post a card for a new report in the moderator channel, if the server chose one."""
        channel_id = (await self.bot.servers.settings(report.guild_id)).mod_channel_id
        if channel_id is None:
            return  # it waits in /review pending
        block = auto_block or await self.moderation.active_block(report.guild_id, report.member_id)
        failures = await self.moderation.recent_failures(report.guild_id, report.member_id)
        view = card_view(report, block)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=report.guild_id)
        embed = card_embed(report, failures_this_week=failures, block=block)
        try:
            message = await (channel.send(embed=embed, view=view) if view else channel.send(embed=embed))
        except discord.HTTPException as exc:
            log.warning("report %s: no card in the moderator channel (%s); it waits in /review pending", report.id, exc)
            problem = (
                f"the card of {discord_time(report.created_at)} could not be posted there ({exc.text or exc.status})"
            )
            await self.bot.servers.note_card_problem(report.guild_id, problem)
            return
        finally:
            if view is not None:
                view.stop()
        await self.moderation.set_card(report.id, channel_id, message.id)
        await self.bot.servers.note_card_problem(report.guild_id, None)

    @commands.Cog.listener()
    async def on_appeal(self, appeal: Appeal, block: Block) -> None:
        """Post a card for a blocked member's appeal in the moderator channel, if the server chose one."""
        channel_id = (await self.bot.servers.settings(appeal.guild_id)).mod_channel_id
        if channel_id is None:
            log.info("block %s: appealed, but server %s has no moderator channel", block.id, appeal.guild_id)
            return
        reports, _ = await self.moderation.history(appeal.guild_id, appeal.member_id)
        failures = await self.moderation.recent_failures(appeal.guild_id, appeal.member_id)
        embed = appeal_embed(appeal, block, reports=reports, failures_this_week=failures)
        view = appeal_card_view(appeal)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=appeal.guild_id)
        try:
            message = await (channel.send(embed=embed, view=view) if view else channel.send(embed=embed))
        except discord.HTTPException as exc:
            log.warning("block %s: no appeal card in the moderator channel (%s)", block.id, exc)
            return
        finally:
            if view is not None:
                view.stop()
        await self.bot.appeals.set_card(block.id, channel_id, message.id)

    def refusal_view(self, error: BotError) -> discord.ui.View | None:
        """A blocked member's refusal offers Ask for a review, until they asked once for that block."""
        if isinstance(error, MemberBlockedError) and error.appealable:
            return appeal_view(error.block.id)
        return None

    # --- /review --------------------------------------------------------------------------------

    @app_commands.command(name="pending", description="Reports waiting for a decision")
    @app_commands.describe(page="Which page (5 reports a page)")
    async def pending(
        self, interaction: discord.Interaction[ImagineBot], page: app_commands.Range[int, 1, 1000] = 1
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reports, total = await self.moderation.pending(guild_of(interaction), page, PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        if not reports:
            await reply_privately(
                interaction, "No reports are waiting." if total == 0 else f"There are only {pages} pages."
            )
            return
        embed = discord.Embed(title=f"Pending reports: {total}", colour=discord.Colour.red())
        for report in reports:
            embed.add_field(
                name=f"Report {report.id} · {report.source.value.replace('_', ' ')}",
                value=f"<@{report.member_id}> in <#{report.channel_id}> {discord_time(report.created_at, 'R')}\n"
                f"{report.reason[:200]}\n{spoiler(report.prompt)[:600]}",
                inline=False,
            )
        embed.set_footer(text=f"Page {page} of {pages}")
        await reply_privately(interaction, embed=embed)

    @app_commands.command(name="history", description="A member's reports and blocks")
    async def history(self, interaction: discord.Interaction[ImagineBot], member: discord.Member) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reports, blocks = await self.moderation.history(guild_of(interaction), member.id)
        embed = discord.Embed(title=f"History of {member.display_name}"[:256], colour=discord.Colour.blurple())
        lines = [
            f"{discord_time(r.created_at, 'd')} · {r.source.value.replace('_', ' ')} · {r.state.value}"
            f"{f' ({r.decision})' if r.decision else ''}: {r.reason[:80]}"
            for r in reports
        ]
        embed.add_field(name="Reports", value="\n".join(lines)[:1024] or "none", inline=False)
        block_lines = []
        for block in blocks:
            until = discord_time(block.until, "f") if block.until else "permanently"
            by = f"<@{block.moderator_id}>" if block.moderator_id else "automatic"
            lifted = f", lifted {discord_time(block.lifted_at, 'R')}" if block.lifted_at else ""
            block_lines.append(f"{discord_time(block.created_at, 'd')} · until {until} · {by}{lifted}")
        embed.add_field(name="Blocks", value="\n".join(block_lines)[:1024] or "none", inline=False)
        await reply_privately(interaction, embed=embed)

    @app_commands.command(name="block", description="Stop a member from generating images")
    @app_commands.describe(hours="How long (leave empty for good)", reason="Why, for the record")
    async def block(
        self,
        interaction: discord.Interaction[ImagineBot],
        member: discord.Member,
        hours: app_commands.Range[float, 0.1, 8760.0] | None = None,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        block = await self.moderation.block(
            guild_of(interaction), member.id, hours=hours, reason=reason, moderator_id=interaction.user.id
        )
        until = f"until {discord_time(block.until, 'f')}" if block.until else "permanently"
        await reply_privately(interaction, f"{member.mention} is blocked from generating images {until}.")

    @app_commands.command(name="unblock", description="Let a blocked member generate images again")
    async def unblock(self, interaction: discord.Interaction[ImagineBot], member: discord.Member) -> None:
        lifted = await self.moderation.unblock(guild_of(interaction), member.id, interaction.user.id)
        await reply_privately(
            interaction,
            f"{member.mention} may generate images again." if lifted else f"{member.mention} was not blocked.",
        )
