"""What the member sees: progress, results and usage as embeds that always fit Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import discord

from bot.errors import discord_time
from bot.models import Job, Usage
from bot.pixazo import DownloadedImage
from bot.progress import Progress, describe

# Discord's limits (DISCORD.md).
TITLE_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
PROMPT_SHOWN = 1800  # the escaped prompt, well inside a description's 4,096 and an embed's 6,000
COLOUR = discord.Colour.blurple()
LINKED_FIELD = "Too large to attach"


def shown_prompt(prompt: str, limit: int = PROMPT_SHOWN) -> str:
    """The prompt as text, never as markdown or mentions, trimmed to `limit` characters."""
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(prompt))
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]  # never leave a lone escaping backslash at the end
    return cut + "…"


def progress_embed(job: Job, progress: Progress) -> discord.Embed:
    title = describe(progress, with_eta=False)  # the estimate is a timestamp that counts down by itself
    embed = discord.Embed(
        title=_fit(title, TITLE_LIMIT), description=shown_prompt(job.request.own_prompt), colour=COLOUR
    )
    if progress.starts_in is not None:
        starts = datetime.now(UTC) + timedelta(seconds=progress.starts_in)
        embed.add_field(name="Expected to start", value=discord_time(starts))
    embed.set_footer(text=_summary(job))
    return embed


def result_embed(
    job: Job, images: Sequence[DownloadedImage], usage: Usage, *, linked: Sequence[str] = ()
) -> discord.Embed:
    count = len(images) + len(linked)
    title = "Here is your image" if count == 1 else f"Here are your {count} images"
    embed = discord.Embed(title=title, description=shown_prompt(job.request.own_prompt), colour=COLOUR)
    embed.add_field(name="Size", value=job.request.size)
    embed.add_field(name="Seed", value=str(job.request.seed) if job.request.seed is not None else "random")
    embed.add_field(name="Cost", value=str(job.unit_price * count))  # its own price, whatever today's is
    if job.request.style is not None:
        embed.add_field(name="Style", value=_fit(discord.utils.escape_markdown(job.request.style), FIELD_VALUE_LIMIT))
    embed.add_field(
        name="Left today",
        value=f"{usage.left} of {usage.limit} · resets {discord_time(usage.resets_at)}",
        inline=False,
    )
    if linked:
        links = "\n".join(f"[image {index}]({url})" for index, url in enumerate(linked, start=len(images) + 1))
        embed.add_field(
            name=LINKED_FIELD,
            value=_fit(f"{links}\nThese links may expire; Reroll asks for a smaller format.", FIELD_VALUE_LIMIT),
            inline=False,
        )
    if images:
        embed.set_image(url=f"attachment://{file_name(job, 1, images[0])}")
    return embed


def failure_embed(job: Job, *, safety: bool) -> discord.Embed:
    if safety:
        return discord.Embed(
            title="This prompt did not pass the safety check",
            description="Nothing was generated.",
            colour=discord.Colour.red(),
        )
    return discord.Embed(
        title="This image could not be made",
        description=shown_prompt(job.request.own_prompt),
        colour=discord.Colour.orange(),
    )


def cancelled_embed(job: Job, by: int) -> discord.Embed:
    embed = discord.Embed(
        title="Cancelled before it was sent; nothing was charged",
        description=shown_prompt(job.request.own_prompt),  # the member's words, as the other stages show them
        colour=discord.Colour.light_grey(),
    )
    if by != job.member_id:
        embed.add_field(name="Cancelled by", value=f"<@{by}>")
    embed.set_footer(text=_summary(job))
    return embed


def usage_embed(member: discord.abc.User, usage: Usage) -> discord.Embed:
    embed = discord.Embed(title=_fit(f"Image budget of {member.display_name}", TITLE_LIMIT), colour=COLOUR)
    embed.add_field(name="Spent today", value=str(usage.spent))
    embed.add_field(name="In progress", value=str(usage.reserved))
    embed.add_field(name="Left", value=f"{usage.left} of {usage.limit}")
    embed.add_field(name="Images today", value=str(usage.images))
    embed.add_field(name="Resets", value=discord_time(usage.resets_at))
    return embed


def file_name(job: Job, index: int, image: DownloadedImage) -> str:
    return f"imagine-{job.id}-{index}.{image.extension}"


def _summary(job: Job) -> str:
    count = job.request.count
    images = "1 image" if count == 1 else f"{count} images"
    style = f" · style {job.request.style}" if job.request.style else ""
    return f"{job.request.size} · {images} · {job.cost}{style}"


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
