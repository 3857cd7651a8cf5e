"""The review card a moderator sees for each safety failure or reported image, and its buttons."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import NotAllowedError, discord_time
from bot.models import Block, ReportSource, ReportState, SafetyReport
from bot.moderation import Decision
from cogs.checks import is_moderator
from cogs.persistent import PersistentButton

if TYPE_CHECKING:
    from bot.bot import ImagineBot

_TITLES = {
    ReportSource.SAFETY: "Prompt failed the safety check",
    ReportSource.BLOCKED_TERM: "Prompt refused by the server's blocked terms",
    ReportSource.MEMBER: "Image reported by a member",
}
_LABELS = {
    Decision.DISMISS: ("Dismiss", discord.ButtonStyle.secondary),
    Decision.BLOCK_DAY: ("Block 24 h", discord.ButtonStyle.danger),
    Decision.BLOCK_WEEK: ("Block 7 days", discord.ButtonStyle.danger),
    Decision.BLOCK_FOREVER: ("Block permanently", discord.ButtonStyle.danger),
    Decision.UNBLOCK: ("Unblock", discord.ButtonStyle.success),
}


def card_embed(report: SafetyReport, *, failures_this_week: int, block: Block | None) -> discord.Embed:
    colour = discord.Colour.red() if report.state is ReportState.OPEN else discord.Colour.dark_grey()
    embed = discord.Embed(title=_TITLES[report.source], colour=colour, timestamp=report.created_at)
    embed.add_field(name="Member", value=f"<@{report.member_id}>")
    embed.add_field(name="Channel", value=f"<#{report.channel_id}>")
    embed.add_field(name="When", value=discord_time(report.created_at, "f"))
    embed.add_field(name="Prompt", value=spoiler(report.prompt), inline=False)
    embed.add_field(name="Reason", value=report.reason[:1024], inline=False)
    if report.reporter_id:
        embed.add_field(name="Reported by", value=f"<@{report.reporter_id}>")
    embed.add_field(name="Safety failures, last 7 days", value=str(failures_this_week))
    embed.add_field(name="Status", value=status_line(report, block), inline=False)
    embed.set_footer(text=f"Report {report.id}")
    return embed


def status_line(report: SafetyReport, block: Block | None) -> str:
    parts = []
    if report.state is ReportState.OPEN:
        parts.append("Open")
    else:
        known = {decision.value: label for decision, (label, _) in _LABELS.items()}
        decision = known.get(report.decision or "", "Decided")
        when = f" {discord_time(report.decided_at, 'R')}" if report.decided_at else ""
        parts.append(f"{decision} by <@{report.moderator_id}>{when}")
    if block is not None:
        until = f"until {discord_time(block.until, 'f')}" if block.until else "permanently"
        who = "automatically" if block.moderator_id is None else f"by <@{block.moderator_id}>"
        parts.append(f"Member blocked {until} ({who})")
    return "\n".join(parts)


def spoiler(prompt: str | None) -> str:
    if prompt is None:
        return "(deleted at the member's request)"
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(prompt))
    body = escaped if len(escaped) <= 1000 else escaped[:999].rstrip("\\") + "…"
    return f"||{body}||"


def card_view(report: SafetyReport, block: Block | None) -> discord.ui.View | None:
    """Unblock alone while the member is blocked; the four decisions while the report is open; else nothing."""
    if block is not None:
        decisions = [Decision.UNBLOCK]
    elif report.state is ReportState.OPEN:
        decisions = [Decision.DISMISS, Decision.BLOCK_DAY, Decision.BLOCK_WEEK, Decision.BLOCK_FOREVER]
    else:
        return None
    view = discord.ui.View(timeout=None)
    for decision in decisions:
        view.add_item(ReviewButton(decision, report.id))
    return view


# Only the decisions: ``review:appeal:<block>`` is the blocked member's button (cogs/moderation/appeals.py).
_DECISIONS = "|".join(decision.value for decision in Decision)


class ReviewButton(PersistentButton, template=rf"review:(?P<decision>{_DECISIONS}):(?P<report>\d+)"):
    def __init__(self, decision: Decision, report_id: int) -> None:
        label, style = _LABELS[decision]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"review:{decision.value}:{report_id}"))
        self.decision = decision
        self.report_id = report_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReviewButton:
        return cls(Decision(match["decision"]), int(match["report"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """A moderator decided on a card: record it, and show it on the card."""
        if not is_moderator(interaction.permissions):
            raise NotAllowedError("Only moderators can decide on reports.")
        moderation = interaction.client.moderation
        outcome = await moderation.decide(self.report_id, self.decision, interaction.user.id)
        report = outcome.report or await moderation.report(self.report_id)
        if report is None:
            raise NotAllowedError("That report no longer exists.")
        failures = await moderation.recent_failures(report.guild_id, report.member_id)
        view = card_view(report, outcome.block)
        await interaction.response.edit_message(
            embed=card_embed(report, failures_this_week=failures, block=outcome.block), view=view
        )
        if view is not None:
            view.stop()
        if outcome.report is None and self.decision is not Decision.UNBLOCK:
            await interaction.followup.send(
                "Someone decided on this report already; the card shows what.", ephemeral=True
            )
