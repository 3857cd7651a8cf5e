"""Where a job's progress and outcome go: the Protocol the runner reports to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.models import DownloadedImage, Job, Usage
from bot.moderation import Failure
from bot.progress import Progress


class DeliveryError(Exception):
    """The sink could not show the member something, and trying again will not help."""


class JobSink(Protocol):
    """Where a job's progress and outcome go: Discord messages, or a terminal."""

    async def progress(self, job: Job, progress: Progress) -> None: ...

    async def hand_off(self, job: Job) -> int | None:
        """Move the job's progress somewhere that outlives its interaction token; return the new message id."""
        ...

    async def deliver(self, job: Job, images: Sequence[DownloadedImage], usage: Usage) -> None: ...

    async def delivered_images(self, job: Job) -> int:
        """How many images of this job the member can already see (0 if its result was never posted)."""
        ...

    async def fail(self, job: Job, *, charged: bool, usage: Usage) -> None: ...

    async def reported(self, failure: Failure) -> None:
        """A safety report was queued for the moderators (and maybe the member was blocked)."""
        ...
