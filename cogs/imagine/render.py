"""What a job's message is made of: the render put on it, the state of one job's screen, what a message shows."""

from __future__ import annotations

import asyncio
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.models import Job
from bot.progress import Progress
from cogs.imagine.embeds import LINKED_FIELD

_LINKED_IMAGE = re.compile(r"\[image \d+\]\(")


@dataclass
class Screen:
    """What one job's message shows now, and what is waiting to be shown."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    rank: int = -1
    shown: Progress | None = None  # what the message shows (None: the placeholder)
    edited_at: float = -math.inf  # when the last edit of it started
    pending: tuple[Job, Progress] | None = None  # the newest state not shown yet
    due: float = math.inf  # when `pending` is to be shown
    timer: asyncio.Task[None] | None = None


@dataclass
class Render:
    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    view: discord.ui.View | None = None
    mentions: discord.AllowedMentions = field(default_factory=discord.AllowedMentions.none)

    def as_edit(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": self.embeds,
            "view": self.view,
            "allowed_mentions": self.mentions,
            "attachments": [discord.File(io.BytesIO(data), filename=name) for name, data in self.files],
        }

    def as_send(self) -> dict[str, Any]:
        send: dict[str, Any] = {
            "content": self.content,
            "embeds": self.embeds,
            "allowed_mentions": self.mentions,
            "files": [discord.File(io.BytesIO(data), filename=name) for name, data in self.files],
        }
        if self.view is not None:
            send["view"] = self.view
        return send


def images_shown(job: Job, message: discord.Message) -> int:
    """This job's images a message carries: attached, or linked when they were too large to attach."""
    prefix = f"imagine-{job.id}-"
    attached = sum(1 for attachment in message.attachments if attachment.filename.startswith(prefix))
    linked = sum(
        len(_LINKED_IMAGE.findall(embed_field.value or ""))
        for embed in message.embeds
        for embed_field in embed.fields
        if embed_field.name == LINKED_FIELD
    )
    return attached + linked
