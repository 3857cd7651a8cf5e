"""Review cards posted for moderators, the decisions on them, and /review."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import explain
from bot.errors import NotAllowedError, discord_time
from bot.models import Block, SafetyReport
from bot.moderation import Decision
from cogs.checks import is_moderator, reply, require_moderator
from cogs.moderation.cards import card_embed, card_view, spoiler

if TYPE_CHECKING:
    from bot.bot import ImagineBot

log = logging.getLogger(__name__)
PAGE_SIZE = 5


@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
class Moderation(commands.GroupCog, group_name="review", group_description="Review safety reports and blocks"):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[ImagineBot]) -> bool:  # type: ignore[override]
        return require_moderator(interaction)

    # --- cards ----------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_safety_report(self, report: SafetyReport, auto_block: Block | None) -> None:
        """Post a card for a new report in the moderator channel, if the server chose one."""
        async with self.bot.storage.transaction() as tx:
            channel_id = (await tx.guilds.settings(report.guild_id)).mod_channel_id
        if channel_id is None:
            return  # it waits in /review pending
        block = auto_block or await self.bot.moderation.active_block(report.guild_id, report.member_id)
        failures = await self.bot.moderation.recent_failures(report.guild_id, report.member_id)
        view = card_view(report, block)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=report.guild_id)
        embed = card_embed(report, failures_this_week=failures, block=block)
        try:
            message = await (channel.send(embed=embed, view=view) if view else channel.send(embed=embed))
        except discord.HTTPException as exc:
            log.warning("report %s: no card in the moderator channel (%s); it waits in /review pending", report.id, exc)
            return
        finally:
            if view is not None:
                view.stop()
        await self.bot.moderation.set_card(report.id, channel_id, message.id)

    async def decide(self, interaction: discord.Interaction[ImagineBot], decision: Decision, report_id: int) -> None:
        """A moderator pressed a button on a card."""
        try:
            if not is_moderator(interaction.permissions):
                raise NotAllowedError("Only moderators can decide on reports.")
            outcome = await self.bot.moderation.decide(report_id, decision, interaction.user.id)
            report = outcome.report or await self.bot.moderation.report(report_id)
            if report is None:
                raise NotAllowedError("That report no longer exists.")
            failures = await self.bot.moderation.recent_failures(report.guild_id, report.member_id)
            view = card_view(report, outcome.block)
            await interaction.response.edit_message(
                embed=card_embed(report, failures_this_week=failures, block=outcome.block), view=view
            )
            if view is not None:
                view.stop()
            if outcome.report is None and decision is not Decision.UNBLOCK:
                await interaction.followup.send(
                    "Someone decided on this report already; the card shows what.", ephemeral=True
                )
        except Exception as exc:  # noqa: BLE001 - the translator decides what the moderator is told
            await explain(interaction, exc)

    # --- /review --------------------------------------------------------------------------------

    @app_commands.command(name="pending", description="Reports waiting for a decision")
    @app_commands.describe(page="Which page (5 reports a page)")
    async def pending(
        self, interaction: discord.Interaction[ImagineBot], page: app_commands.Range[int, 1, 1000] = 1
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reports, total = await self.bot.moderation.pending(_guild(interaction), page, PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        if not reports:
            await reply(interaction, "No reports are waiting." if total == 0 else f"There are only {pages} pages.")
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
        await reply(interaction, embed=embed)

    @app_commands.command(name="history", description="A member's reports and blocks")
    async def history(self, interaction: discord.Interaction[ImagineBot], member: discord.Member) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reports, blocks = await self.bot.moderation.history(_guild(interaction), member.id)
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
        await reply(interaction, embed=embed)

    @app_commands.command(name="block", description="Stop a member from generating images")
    @app_commands.describe(hours="How long (leave empty for good)", reason="Why, for the record")
    async def block(
        self,
        interaction: discord.Interaction[ImagineBot],
        member: discord.Member,
        hours: app_commands.Range[float, 0.1, 8760.0] | None = None,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        block = await self.bot.moderation.block(
            _guild(interaction), member.id, hours=hours, reason=reason, moderator_id=interaction.user.id
        )
        until = f"until {discord_time(block.until, 'f')}" if block.until else "permanently"
        await reply(interaction, f"{member.mention} is blocked from generating images {until}.")

    @app_commands.command(name="unblock", description="Let a blocked member generate images again")
    async def unblock(self, interaction: discord.Interaction[ImagineBot], member: discord.Member) -> None:
        lifted = await self.bot.moderation.unblock(_guild(interaction), member.id, interaction.user.id)
        await reply(
            interaction,
            f"{member.mention} may generate images again." if lifted else f"{member.mention} was not blocked.",
        )


def _guild(interaction: discord.Interaction[ImagineBot]) -> int:
    assert interaction.guild_id is not None  # guild_only
    return interaction.guild_id
