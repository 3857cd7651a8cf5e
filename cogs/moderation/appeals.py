"""Appeals: the blocked member's Ask for a review button, the card it posts for the moderators, and the card's
Lift and Keep buttons. All are `DynamicItem`s carrying the block's id, so they work after a restart."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import NotAllowedError, discord_time
from bot.models import Appeal, AppealState, Block, SafetyReport
from cogs.checks import guild_of, is_moderator
from cogs.persistent import PersistentButton

if TYPE_CHECKING:
    from bot.bot import ImagineBot

_OUTCOMES = {AppealState.OPEN: "Open", AppealState.LIFTED: "Block lifted", AppealState.KEPT: "Block kept"}


def appeal_embed(
    appeal: Appeal, block: Block, *, reports: list[SafetyReport], failures_this_week: int
) -> discord.Embed:
    colour = discord.Colour.orange() if appeal.state is AppealState.OPEN else discord.Colour.dark_grey()
    embed = discord.Embed(title="A blocked member asks for a review", colour=colour, timestamp=appeal.created_at)
    embed.add_field(name="Member", value=f"<@{appeal.member_id}>")
    until = f"until {discord_time(block.until, 'f')}" if block.until else "permanently"
    by = "automatically" if block.moderator_id is None else f"by <@{block.moderator_id}>"
    embed.add_field(name="Block", value=f"{until}, {by}, since {discord_time(block.created_at, 'f')}")
    embed.add_field(name="Reason", value=_plain(block.reason or "none given")[:1024], inline=False)
    lines = [
        f"{discord_time(r.created_at, 'd')} · {r.source.value.replace('_', ' ')} · {r.state.value}: "
        f"{_plain(r.reason[:80])}"
        for r in reports
    ]
    embed.add_field(name="Reports", value="\n".join(lines)[:1024] or "none", inline=False)
    embed.add_field(name="Safety failures, last 7 days", value=str(failures_this_week))
    status = _OUTCOMES[appeal.state]
    if appeal.moderator_id is not None and appeal.decided_at is not None:
        status += f" by <@{appeal.moderator_id}> {discord_time(appeal.decided_at)}"
    embed.add_field(name="Status", value=status, inline=False)
    embed.set_footer(text=f"Block {block.id}")
    return embed


def _plain(text: str) -> str:
    """Text a member or moderator wrote (a block's reason, a blocked term), shown as typed: no markdown, no mentions."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def appeal_card_view(appeal: Appeal) -> discord.ui.View | None:
    """Lift and Keep while the appeal is open; nothing once decided."""
    if appeal.state is not AppealState.OPEN:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(AppealDecisionButton("lift", appeal.block_id))
    view.add_item(AppealDecisionButton("keep", appeal.block_id))
    return view


def appeal_view(block_id: int) -> discord.ui.View:
    """What a blocked member's refusal offers until they appealed that block."""
    view = discord.ui.View(timeout=None)
    view.add_item(AppealButton(block_id))
    return view


class AppealButton(PersistentButton, template=r"review:appeal:(?P<block>\d+)"):
    def __init__(self, block_id: int) -> None:
        custom_id = f"review:appeal:{block_id}"
        super().__init__(
            discord.ui.Button(label="Ask for a review", style=discord.ButtonStyle.primary, custom_id=custom_id)
        )
        self.block_id = block_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AppealButton:
        return cls(int(match["block"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """The blocked member asks once: record it, post the card, and say so on the refusal."""
        appeal, block = await interaction.client.appeals.ask(self.block_id, interaction.user.id)
        interaction.client.dispatch("appeal", appeal, block)
        await interaction.response.edit_message(
            content="You asked the moderators for a review of your block; your next refusal will say how it stands.",
            view=None,
        )


class AppealDecisionButton(PersistentButton, template=r"appeal:(?P<decision>lift|keep):(?P<block>\d+)"):
    def __init__(self, decision: str, block_id: int) -> None:
        label, style = (
            ("Lift the block", discord.ButtonStyle.success)
            if decision == "lift"
            else ("Keep the block", discord.ButtonStyle.secondary)
        )
        custom_id = f"appeal:{decision}:{block_id}"
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.decision = decision
        self.block_id = block_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AppealDecisionButton:
        return cls(match["decision"], int(match["block"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """A moderator lifted or kept the block: record it, and show it on the card."""
        if not is_moderator(interaction.permissions):
            raise NotAllowedError("Only moderators can decide on appeals.")
        client = interaction.client
        decided = await client.appeals.decide(
            self.block_id,
            lift=self.decision == "lift",
            moderator_id=interaction.user.id,
            guild_id=guild_of(interaction),
        )
        appeal = decided.current
        reports, _ = await client.moderation.history(appeal.guild_id, appeal.member_id)
        failures = await client.moderation.recent_failures(appeal.guild_id, appeal.member_id)
        embed = appeal_embed(appeal, decided.block, reports=reports, failures_this_week=failures)
        await interaction.response.edit_message(embed=embed, view=None)
        if decided.appeal is None:
            await interaction.followup.send(
                "Someone decided on this appeal already; the card shows what.", ephemeral=True
            )


DYNAMIC_ITEMS = (AppealButton, AppealDecisionButton)
