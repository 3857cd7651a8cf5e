"""The buttons under a result: Reroll, Vary, Delete, Report; and Cancel, under a job waiting to be sent.

They are `DynamicItem`s whose `custom_id` carries the job id (``imagine:reroll:42``), so they work
for every result ever posted, across restarts, with no view kept in memory.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import discord

from bot.errors import BotError, NotAllowedError
from bot.jobs import JobRunner
from bot.models import Job, JobRequest
from bot.prompts import MAX_PROMPT_CHARS, MAX_SEED
from bot.styles import StyledPrompt
from cogs.imagine.embeds import cancelled_embed
from cogs.persistent import PersistentButton

if TYPE_CHECKING:
    from bot.bot import ImagineBot

SMALLER_FORMAT = "jpeg"
VARY_PROMPT = "prompt"  # the custom_id of the Vary form's text input


@runtime_checkable
class Imagining(Protocol):
    """What the buttons need of the Imagine cog (which imports them, so they cannot import it)."""

    runner: JobRunner

    async def acknowledge(
        self, interaction: discord.Interaction[Any]
    ) -> discord.InteractionCallbackResponse[Any] | None: ...

    def request_for(
        self,
        interaction: discord.Interaction[Any],
        *,
        prompt: StyledPrompt,
        size: str,
        seed: int | None,
        count: int,
        output_format: str | None = None,
        parent_id: int | None = None,
    ) -> JobRequest: ...

    async def start_job(
        self, interaction: discord.Interaction[Any], request: JobRequest, message_id: int | None
    ) -> Job: ...

    async def cancel(self, interaction: discord.Interaction[Any], job_id: int) -> Job: ...


def result_view(job_id: int, *, smaller: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RerollButton(job_id, smaller=smaller))
    view.add_item(VaryButton(job_id))
    view.add_item(DeleteButton(job_id))
    view.add_item(ReportButton(job_id))
    return view


def cancel_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


def _imagine(interaction: discord.Interaction[ImagineBot]) -> Imagining:
    cog: object = interaction.client.get_cog("Imagine")
    if not isinstance(cog, Imagining):
        raise BotError("Image generation is not available right now; try again in a minute.")
    return cog


class RerollButton(PersistentButton, template=r"imagine:reroll:(?P<job>\d+)(?::(?P<fmt>\w+))?"):
    def __init__(self, job_id: int, *, smaller: bool = False) -> None:
        custom_id = f"imagine:reroll:{job_id}" + (f":{SMALLER_FORMAT}" if smaller else "")
        super().__init__(
            discord.ui.Button(label="Reroll", emoji="🎲", style=discord.ButtonStyle.primary, custom_id=custom_id)
        )
        self.job_id = job_id
        self.smaller = smaller

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RerollButton:
        return cls(int(match["job"]), smaller=match["fmt"] == SMALLER_FORMAT)

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        cog = _imagine(interaction)
        response = await cog.acknowledge(interaction)
        parent = await cog.runner.job(self.job_id)
        if parent is None:
            raise BotError("That image is no longer on record, so it cannot be rerolled.")
        if parent.request.forgotten:
            raise BotError("That image's prompt was erased at its member's request, so it cannot be rerolled.")
        asked = parent.request
        request = cog.request_for(
            interaction,
            prompt=StyledPrompt(asked.prompt, asked.style, asked.member_prompt),  # as it was sent, in its style
            size=parent.request.size,
            seed=random.randint(0, MAX_SEED),
            count=parent.request.count,
            output_format=SMALLER_FORMAT if self.smaller else parent.request.output_format,
            parent_id=parent.id,
        )
        await cog.start_job(interaction, request, response.message_id if response else None)


FORGOTTEN_VARY = "That image's prompt was erased at its member's request, so it cannot be varied."


class VaryButton(PersistentButton, template=r"imagine:vary:(?P<job>\d+)"):
    """Opens a form with the prompt to edit; what is sent back is handled by `cogs.imagine.vary`."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Vary", emoji="✏️", style=discord.ButtonStyle.secondary, custom_id=f"imagine:vary:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VaryButton:
        return cls(int(match["job"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        parent = await _imagine(interaction).runner.job(self.job_id)  # a modal must be the first answer: no deferral
        if parent is None:
            raise BotError("That image is no longer on record, so it cannot be varied.")
        if parent.request.forgotten:
            raise BotError(FORGOTTEN_VARY)
        await interaction.response.send_modal(vary_form(parent))


def vary_form(parent: Job) -> discord.ui.Modal:
    """The form Vary opens, with the member's own words (before any style) to edit.

    It is stopped before it is sent, so discord.py keeps no copy: every process handles what is submitted the
    same way, by its custom_id (`cogs.imagine.vary`), before and after a restart.
    """
    form = discord.ui.Modal(title="Vary this image", custom_id=f"imagine:vary:{parent.id}", timeout=None)
    text = discord.ui.TextInput[discord.ui.Modal](
        style=discord.TextStyle.paragraph,
        custom_id=VARY_PROMPT,
        default=parent.request.own_prompt[:MAX_PROMPT_CHARS],
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
    )
    described = f"Sent in the style “{parent.request.style}”" if parent.request.style else None
    form.add_item(discord.ui.Label(text="Prompt", description=described, component=text))
    form.stop()
    return form


class DeleteButton(PersistentButton, template=r"imagine:delete:(?P<job>\d+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete", emoji="🗑️", style=discord.ButtonStyle.secondary, custom_id=f"imagine:delete:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteButton:
        return cls(int(match["job"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        job = await _imagine(interaction).runner.job(self.job_id)
        requester = job.member_id if job is not None else None
        if interaction.user.id != requester and not interaction.permissions.manage_messages:
            raise NotAllowedError(
                "Only the member who asked for this image, or someone who can manage messages, can delete it."
            )
        await interaction.response.defer()
        await interaction.delete_original_response()


class ReportButton(PersistentButton, template=r"imagine:report:(?P<job>\d+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Report", emoji="🚩", style=discord.ButtonStyle.danger, custom_id=f"imagine:report:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReportButton:
        return cls(int(match["job"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await interaction.client.moderation.report_result(self.job_id, interaction.user.id)
        if report is None:
            await interaction.followup.send(
                "Thanks; this image was reported already and is waiting for the moderators.", ephemeral=True
            )
            return
        interaction.client.dispatch("safety_report", report, None)
        await interaction.followup.send("Thanks; the moderators will take a look.", ephemeral=True)


class CancelButton(PersistentButton, template=r"imagine:cancel:(?P<job>\d+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel", emoji="✖️", style=discord.ButtonStyle.secondary, custom_id=f"imagine:cancel:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["job"]))

    async def pressed(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Cancel the job if Pixazo does not have it yet, and show it on its reply (the message pressed on)."""
        await interaction.response.defer()
        job = await _imagine(interaction).cancel(interaction, self.job_id)
        await interaction.edit_original_response(
            content=None, embed=cancelled_embed(job, interaction.user.id), view=None
        )


DYNAMIC_ITEMS = (RerollButton, VaryButton, DeleteButton, ReportButton, CancelButton)
