"""Cancel: a job Pixazo does not have yet ends at the press of its member, or of someone who manages messages.

Any process may receive the press, whichever holds the job: the cancellation and the release of the job's
reservation are one transaction, conditional on the job still being `reserved`. The holder's move to
`submitting` has the same condition, so of a cancel and a send exactly one wins; Pixazo has no cancel call,
so a job it has runs to its end.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.errors import BotError, NotAllowedError
from bot.ledger import Ledger
from bot.models import Job, JobState
from bot.storage import Storage

log = logging.getLogger(__name__)


async def cancel(
    storage: Storage, ledger: Ledger, job_id: int, *, by: int, guild_id: int, manages_messages: bool, now: datetime
) -> Job:
    """Cancel a job never sent and give back exactly its reservation; raise the `BotError` that says why not.

    `by` pressed in server `guild_id`, where they do or do not manage messages: that says nothing of another
    server's jobs."""
    async with storage.transaction() as tx:
        job = await tx.jobs.get(job_id)
        if job is None:
            raise BotError("That request is no longer on record, so there is nothing to cancel.")
        if job.request.guild_id != guild_id:
            raise NotAllowedError("That request is not from this server, so it cannot be cancelled here.")
        if by != job.member_id and not manages_messages:
            raise NotAllowedError(
                "Only the member who asked for this image, or someone who can manage messages, can cancel it."
            )
        cancelled = await tx.jobs.cancel(job_id, now)
        if cancelled is None:
            raise _too_late(await tx.jobs.get(job_id) or job)
        if cancelled.reservation_id is not None:
            await ledger.release(cancelled.reservation_id, tx=tx)
    log.info("job %s: cancelled by %s before it was sent; %s released", job_id, by, cancelled.cost)
    return cancelled


def _too_late(job: Job) -> BotError:
    if job.state is JobState.CANCELLED:
        return BotError("This request was cancelled already.")
    if job.state.final:
        return BotError("Too late to cancel: this request has already ended.")
    return BotError("Too late to cancel: the image service already has this request, and it cannot stop it now.")
