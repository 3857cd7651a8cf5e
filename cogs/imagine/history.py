"""What `/history` shows, and its Previous/Next buttons: `DynamicItem`s whose `custom_id` carries the server,
the member and the page (``history:<guild>:<member>:<page>``), so they work after a restart and in any process.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import NotAllowedError, discord_time
from bot.history import HistoryEntry, HistoryPage
from cogs.checks import guild_of, is_moderator
from cogs.imagine.embeds import COLOUR, shown_prompt
from cogs.persistent import PersistentButton

if TYPE_CHECKING:
    from bot.bot import ImagineBot

PROMPT_IN_HISTORY = 120


def history_embed(guild_id: int, page: HistoryPage, *, own: bool) -> discord.Embed:
    """One page of a member's history: the member's own, or (for a moderator) someone else's, named first."""
    entries = [_entry_text(guild_id, entry) for entry in page.entries]
    if not own:
        entries.insert(0, f"Member: <@{page.member_id}>")
    title = "Your last images" if own else "A member's last images"
    embed = discord.Embed(title=title, description="\n\n".join(entries), colour=COLOUR)
    embed.set_footer(text=f"Page {page.page} of {page.pages} · the last {page.total} jobs, newest first")
    return embed


def _entry_text(guild_id: int, entry: HistoryEntry) -> str:
    images = "1 image" if entry.images == 1 else f"{entry.images} images"
    cost = str(entry.cost) if entry.settled else f"{entry.cost} set aside"
    line = f"{discord_time(entry.created_at, 'f')} · {entry.size} · {images} · {cost} · {entry.state.value}"
    if entry.message_id is not None:
        line += f" · [result](https://discord.com/channels/{guild_id}/{entry.channel_id}/{entry.message_id})"
    if entry.prompt is None:
        return f"{line}\n*(prompt erased at the member's request)*"
    return f"{line}\n{shown_prompt(entry.prompt, PROMPT_IN_HISTORY)}"


def history_view(guild_id: int, page: HistoryPage) -> discord.ui.View | None:
    if page.pages == 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(HistoryButton(guild_id, page.member_id, page.page - 1, label="Previous", disabled=page.page == 1))
    view.add_item(
        HistoryButton(guild_id, page.member_id, page.page + 1, label="Next", disabled=page.page == page.pages)
    )
    return view


class HistoryButton(PersistentButton, template=r"history:(?P<guild>\d+):(?P<member>\d+):(?P<page>\d+)"):
    def __init__(
        self, guild_id: int, member_id: int, page: int, *, label: str = "Page", disabled: bool = False
    ) -> None:
        custom_id = f"history:{guild_id}:{member_id}:{page}"
        style = discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id, disabled=disabled))
        self.guild_id = guild_id
        self.member_id = member_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HistoryButton:
        return cls(int(match["guild"]), int(match["member"]), int(match["page"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        own = interaction.user.id == self.member_id
        if guild_of(interaction) != self.guild_id or not (own or is_moderator(interaction.permissions)):
            raise NotAllowedError("Only the member whose history this is, or a moderator, can turn its pages.")
        page = await interaction.client.history.page(self.guild_id, self.member_id, self.page, own=own)
        view = history_view(self.guild_id, page)
        await interaction.response.edit_message(embed=history_embed(self.guild_id, page, own=own), view=view)
        if view is not None:
            view.stop()


DYNAMIC_ITEMS = (HistoryButton,)
