"""`/imagine` (with its style option), `/usage`, `/history` and `/forget`, and the job runner that serves them."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import ON_ANSWERED, PUBLIC_PLACEHOLDER
from bot.config import IMAGE_SIZE_NAMES
from bot.errors import NotAllowedError
from bot.jobs import JobMessages
from bot.models import Delivery, Job, JobOrigin, JobRequest, PendingInteraction
from bot.pixazo import MAX_IMAGES
from bot.prompts import MAX_PROMPT_CHARS, MAX_SEED, check_options, clean_prompt
from bot.styles import MAX_NAME_CHARS, StyledPrompt
from cogs.checks import budget_roles, guild_of, is_moderator
from cogs.imagine.buttons import cancel_view, result_view
from cogs.imagine.embeds import usage_embed
from cogs.imagine.forget import FORGET_QUESTION, forget_view
from cogs.imagine.history import history_embed, history_view
from cogs.imagine.presenter import DiscordPresenter

if TYPE_CHECKING:
    from bot.bot import ImagineBot

log = logging.getLogger(__name__)

SIZE_CHOICES = [app_commands.Choice(name=name, value=name) for name in IMAGE_SIZE_NAMES]


class Imagine(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        messages = JobMessages(bot.storage, bot.clock)
        self.presenter = DiscordPresenter(bot, messages, result_view=result_view, waiting_view=cancel_view)
        self.runner = bot.services.runner(self.presenter, JobOrigin.DISCORD)

    async def resume_work(self) -> None:
        """Carry on with the jobs the last process left unfinished (called by the bot's setup hook)."""
        await self.runner.start()

    async def cog_unload(self) -> None:
        await self.runner.close()
        await self.presenter.close()

    @app_commands.command(name="imagine", description="Generate an image from a prompt")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What the image should show",
        size="The shape of the image (your /preferences if you do not choose, else square)",
        seed="A number that makes the result repeatable",
        count="How many images, each costing the same (your /preferences if you do not say, else 1)",
        style="One of this server's styles, wrapped around your prompt",
    )
    @app_commands.choices(size=SIZE_CHOICES)
    async def imagine(
        self,
        interaction: discord.Interaction[ImagineBot],
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        size: app_commands.Choice[str] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        count: app_commands.Range[int, 1, MAX_IMAGES] | None = None,
        style: app_commands.Range[str, 1, MAX_NAME_CHARS] | None = None,
    ) -> None:
        response = await self.acknowledge(interaction)
        assert interaction.guild_id is not None
        chosen, images = await self.bot.preferences.fill(
            interaction.guild_id, interaction.user.id, size.value if size else None, count
        )
        styled = await self.bot.styles.prompt(interaction.guild_id, prompt, style)
        request = self.request_for(interaction, prompt=styled, size=chosen, seed=seed, count=images)
        await self.start_job(interaction, request, response.message_id if response else None)

    @imagine.autocomplete("style")
    async def style_choices(
        self, interaction: discord.Interaction[ImagineBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.bot.styles.names_like(interaction.guild_id, current)
        return [app_commands.Choice(name=name, value=name) for name in names]

    @app_commands.command(name="usage", description="What you have spent on images today and what is left")
    @app_commands.guild_only()
    @app_commands.describe(member="Someone else's usage (moderators only)")
    async def usage(self, interaction: discord.Interaction[ImagineBot], member: discord.Member | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        target = member or interaction.user
        if target.id != interaction.user.id and not is_moderator(interaction.permissions):
            raise NotAllowedError("Only moderators can see someone else's usage.")
        usage = await self.bot.ledger.usage(interaction.guild_id, target.id, budget_roles(target))
        await interaction.followup.send(embed=usage_embed(target, usage), ephemeral=True)

    @app_commands.command(name="history", description="Your last images: when, prompt, size, cost and result")
    @app_commands.guild_only()
    @app_commands.describe(member="Someone else's history (moderators only)")
    async def history(self, interaction: discord.Interaction[ImagineBot], member: discord.Member | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = guild_of(interaction)
        target = member or interaction.user
        own = target.id == interaction.user.id
        if not own and not is_moderator(interaction.permissions):
            raise NotAllowedError("Only moderators can see someone else's history.")
        page = await self.bot.history.page(guild_id, target.id, 1, own=own)
        embed = history_embed(guild_id, page, own=own)
        view = history_view(guild_id, page)
        if view is None:
            await interaction.followup.send(embed=embed, ephemeral=True)
            return
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)
        view.stop()

    @app_commands.command(name="forget", description="Erase your prompts and your name from this server's records")
    @app_commands.guild_only()
    async def forget(self, interaction: discord.Interaction[ImagineBot]) -> None:
        view = forget_view(interaction.user.id)
        await interaction.response.send_message(FORGET_QUESTION, view=view, ephemeral=True)
        view.stop()

    # --- shared with the buttons ----------------------------------------------------------------

    async def acknowledge(
        self, interaction: discord.Interaction[Any]
    ) -> discord.InteractionCallbackResponse[Any] | None:
        """Defer with a public "thinking…" reply before any other work (Discord waits 3 s), recording the
        interaction meanwhile: if the process stops before the job exists, the next start answers it."""
        assert interaction.guild_id is not None
        assert interaction.channel_id is not None
        pending = PendingInteraction(
            id=interaction.id,
            application_id=interaction.application_id,
            token=interaction.token,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            member_id=interaction.user.id,
            expires_at=interaction.expires_at,
            created_at=self.bot.clock(),
        )
        recorded = asyncio.create_task(self.runner.remember_interaction(pending))  # runs while the deferral is sent
        try:
            response = await interaction.response.defer(thinking=True)
        except BaseException:
            await recorded
            await self.runner.forget_interaction(interaction.id)
            raise
        await recorded
        interaction.extras[PUBLIC_PLACEHOLDER] = True
        interaction.extras[ON_ANSWERED] = functools.partial(self.runner.forget_interaction, interaction.id)
        return response

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
    ) -> JobRequest:
        """Check what the member asked for and turn it into a `JobRequest`, or raise why not."""
        assert interaction.guild_id is not None
        assert interaction.channel_id is not None
        image_size = check_options(size, seed, count, self.bot.config.image_sizes)
        return JobRequest(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            member_id=interaction.user.id,
            prompt=clean_prompt(prompt.prompt),
            style=prompt.style,
            member_prompt=prompt.own,
            size=size,
            image_size=image_size,
            count=count,
            seed=seed,
            output_format=output_format or self.bot.config.pixazo_output_format,
            parent_id=parent_id,
            role_ids=budget_roles(interaction.user),
            member_name=interaction.user.display_name,
        )

    async def start_job(
        self, interaction: discord.Interaction[Any], request: JobRequest, message_id: int | None
    ) -> Job:
        delivery = Delivery(
            application_id=interaction.application_id,
            interaction_token=interaction.token,
            token_expires_at=interaction.expires_at,
            message_id=message_id,
            attachment_limit=interaction.filesize_limit,
            interaction_id=interaction.id,
        )
        return await self.runner.submit(request, delivery)

    async def cancel(self, interaction: discord.Interaction[Any], job_id: int) -> Job:
        """Cancel a job not yet sent, for whoever pressed its Cancel button; its progress is shown no more."""
        job = await self.runner.cancel(
            job_id,
            by=interaction.user.id,
            guild_id=guild_of(interaction),
            manages_messages=interaction.permissions.manage_messages,
        )
        await self.presenter.stop_showing(job.id)
        return job
