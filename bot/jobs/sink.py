"""Where a job's progress and outcome go: the Protocol the runner reports to, and how a sink records messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from bot.models import Job, PendingInteraction, Usage
from bot.moderation import Failure
from bot.pixazo import DownloadedImage
from bot.progress import Progress
from bot.storage import Storage


class DeliveryError(Exception):
    """The sink could not show the member something, and trying again will not help."""


class JobSink(Protocol):
    """Where a job's progress and outcome go: Discord messages, or a terminal.

    A sink that posts a message which may carry a job's progress or result records its id with
    `JobMessages.record` as soon as it has it, before it does anything else for that job: after a crash,
    what is on record is all there is to find.
    """

    async def progress(self, job: Job, progress: Progress) -> None: ...

    async def hand_off(self, job: Job) -> int | None:
        """Move the job's progress somewhere that outlives its interaction token; return the new message id."""
        ...

    async def deliver(self, job: Job, images: Sequence[DownloadedImage], usage: Usage) -> None: ...

    async def delivered_images(self, job: Job) -> int | None:
        """How many images of this job the member can already see: 0 if none, None if it cannot be told."""
        ...

    async def fail(self, job: Job, *, charged: bool, usage: Usage) -> None: ...

    async def reported(self, failure: Failure) -> None:
        """A safety report was queued for the moderators (and maybe the member was blocked)."""
        ...

    async def never_started(self, pending: PendingInteraction) -> None:
        """Tell a member whose request was acknowledged before a restart, and never became a job."""
        ...


class JobMessages:
    """Records the messages a sink posts for a job, on the job's row."""

    def __init__(self, storage: Storage, clock: Callable[[], datetime]) -> None:
        self._storage = storage
        self._clock = clock

    async def still_held(self, job_id: int) -> bool:
        """Whether this process may still speak for the job: a process woken after its lease ran out (another
        may be showing the job's result by now) must not put an older state over it."""
        async with self._storage.reading() as tx:
            return await tx.jobs.holds(job_id)

    async def record(self, job_id: int, message_id: int) -> None:
        async with self._storage.autocommit() as tx:
            await tx.jobs.update(job_id, self._clock(), channel_message_id=message_id)
