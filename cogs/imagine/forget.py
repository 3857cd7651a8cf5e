"""`/forget`'s confirmation button, and the reply that says what was erased and what was kept.

The button is a `DynamicItem` carrying the member (``forget:confirm:<member>``): it works after a restart, and
only for that member.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import NotAllowedError
from bot.models import Forgotten
from cogs.checks import guild_of
from cogs.persistent import PersistentButton

if TYPE_CHECKING:
    from bot.bot import ImagineBot

FORGET_QUESTION = (
    "Erase the prompts of your images and your name from this server's records? What you spent stays counted, "
    "without prompts, for today's budget and the server's totals. This cannot be undone."
)


def forget_view(member_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(member_id))
    return view


def forgotten_text(forgotten: Forgotten) -> str:
    """What `/forget` erased and what it kept, and why."""
    erased = (
        f"Erased: the prompts of {_count(forgotten.jobs, 'image job')} and "
        f"{_count(forgotten.reports, 'decided report')}, and {_count(forgotten.names, 'saved name')}."
    )
    kept = (
        f" Kept: {_count(forgotten.spend_rows, 'spend record')} (amounts only: today's budget and the server's "
        f"totals count them), {_count(forgotten.blocks, 'block')}, and "
        f"{_count(forgotten.open_reports, 'open report')} whose prompt goes once a moderator decides."
    )
    return erased + kept + " Images already posted stay where they are; delete them with their Delete button."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class ForgetButton(PersistentButton, template=r"forget:confirm:(?P<member>\d+)"):
    def __init__(self, member_id: int) -> None:
        custom_id = f"forget:confirm:{member_id}"
        super().__init__(
            discord.ui.Button(label="Forget my prompts", style=discord.ButtonStyle.danger, custom_id=custom_id)
        )
        self.member_id = member_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ForgetButton:
        return cls(int(match["member"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        if interaction.user.id != self.member_id:
            raise NotAllowedError("Only the member who asked to be forgotten can confirm it.")
        forgotten = await interaction.client.ledger.forget_member(guild_of(interaction), self.member_id)
        await interaction.response.edit_message(content=forgotten_text(forgotten), view=None)


DYNAMIC_ITEMS = (ForgetButton,)
