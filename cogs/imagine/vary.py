"""What the Vary form sends back: a new job with the edited prompt, of whoever submitted it.

discord.py routes only components by a `DynamicItem`'s template, not modals, and the form is never kept in
memory (`vary_form`): this listener matches the submitted form's custom_id, so a form opened before a restart,
or in another process, is handled the same way. Everything goes through the one error translator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.bot import explain
from bot.errors import BotError
from cogs.imagine.buttons import FORGOTTEN_VARY, VARY_PROMPT, Imagining

if TYPE_CHECKING:
    from bot.bot import ImagineBot


VARY_FORM = re.compile(r"imagine:vary:(?P<job>\d+)")


class Vary(commands.Cog):
    def __init__(self, bot: ImagineBot, imagine: Imagining) -> None:
        self.bot = bot
        self.imagine = imagine

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[ImagineBot]) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        match = VARY_FORM.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        try:
            await self.submitted(interaction, int(match["job"]), _value(data, VARY_PROMPT))
        except Exception as exc:  # noqa: BLE001 - the translator decides what the member is told
            await explain(interaction, exc)

    async def submitted(self, interaction: discord.Interaction[ImagineBot], job_id: int, text: str) -> None:
        """The same size, seed, count and style as the image varied, with the new words; checked and charged
        like any /imagine of the member who submitted it."""
        cog = self.imagine
        response = await cog.acknowledge(interaction)
        parent = await cog.runner.job(job_id)
        if parent is None:
            raise BotError("That image is no longer on record, so it cannot be varied.")
        if parent.request.forgotten:  # forgotten after the form was opened
            raise BotError(FORGOTTEN_VARY)
        asked = parent.request
        styled = await self.bot.styles.again(asked.guild_id, text, asked.style)
        request = cog.request_for(
            interaction,
            prompt=styled,
            size=asked.size,
            seed=asked.seed,
            count=asked.count,
            output_format=asked.output_format,
            parent_id=parent.id,
        )
        await cog.start_job(interaction, request, response.message_id if response else None)


def _value(data: dict[str, Any], custom_id: str) -> str:
    """The text a form's input held, wherever Discord put it: in a label or in an action row."""
    return next((str(c.get("value") or "") for c in _walk(data) if c.get("custom_id") == custom_id), "")


def _walk(component: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in [*component.get("components", []), *([component["component"]] if "component" in component else [])]:
        yield child
        yield from _walk(child)
