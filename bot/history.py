"""A member's recent jobs for `/history`: newest first, in pages, with what each cost and where its result is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.errors import BotError
from bot.models import Job, JobState
from bot.money import Money
from bot.storage import Storage

HISTORY_LENGTH = 25
PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    job_id: int
    created_at: datetime
    prompt: str | None  # None once the member asked to be forgotten
    size: str
    images: int
    cost: Money  # what it was charged once settled; what is set aside while it runs
    settled: bool
    state: JobState
    channel_id: int
    message_id: int | None  # the message its result was posted in, once delivered


@dataclass(frozen=True, slots=True)
class HistoryPage:
    member_id: int
    entries: tuple[HistoryEntry, ...]
    page: int  # from 1
    pages: int
    total: int  # jobs in the history (at most HISTORY_LENGTH)


class History:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def page(self, guild_id: int, member_id: int, page: int, *, own: bool) -> HistoryPage:
        """One page of a member's last jobs in a server, or the `BotError` saying there are none."""
        async with self._storage.reading() as tx:
            rows = await tx.jobs.recent_for_member(guild_id, member_id, HISTORY_LENGTH)
        if not rows:
            whose = "You have" if own else "This member has"
            raise BotError(f"{whose} not generated any images in this server yet.")
        pages = -(-len(rows) // PAGE_SIZE)
        page = min(max(1, page), pages)
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        entries = tuple(_entry(job, charged) for job, charged in shown)
        return HistoryPage(member_id, entries, page, pages, len(rows))


def _entry(job: Job, charged: Money | None) -> HistoryEntry:
    delivered = job.state is JobState.DELIVERED
    return HistoryEntry(
        job_id=job.id,
        created_at=job.created_at,
        prompt=None if job.request.forgotten else job.request.prompt,
        size=job.request.size,
        images=job.images_delivered if delivered else job.request.count,
        cost=job.cost if charged is None else charged,
        settled=charged is not None,
        state=job.state,
        channel_id=job.request.channel_id,
        message_id=(job.delivery.channel_message_id or job.delivery.message_id) if delivered else None,
    )
