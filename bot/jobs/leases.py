"""One heartbeat per process: it keeps this process's leases, takes over the work of processes that stopped,
and tells the runner which of its jobs another process has taken (or cancelled: a press in any process).

Every few seconds (a third of the lease) one statement moves all of this process's leases on, and the
process says it runs: it learns how many processes share the deployment's Pixazo limits. Every
second it looks for work nobody holds: jobs and acknowledged interactions whose holder let them go (a clean
stop), whose lease ran out (a process paused, cut off or killed on another machine), or whose holder is
proven gone (`Tx.proven_gone`: its OS lock on this machine is free, or its database session ended).
A job stays with its process while it lives, so live processes never trade jobs.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.models import Job, JobOrigin, PendingInteraction
from bot.storage import Storage

log = logging.getLogger(__name__)
BATCH = 100  # jobs taken over in one transaction
LOOK_EVERY_SECONDS = 1.0


@dataclass(slots=True)
class TakenOver:
    jobs: list[Job] = field(default_factory=list)
    interactions: list[PendingInteraction] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.jobs or self.interactions)


class LeaseKeeper:
    def __init__(
        self,
        storage: Storage,
        origin: JobOrigin,
        *,
        took: Callable[[TakenOver], None],
        working: Callable[[], set[int]],
        lost: Callable[[set[int]], None],
        processes: Callable[[int], None] = lambda _: None,
    ) -> None:
        self._storage = storage
        self._origin = origin
        self._took = took  # given the work this process has just taken
        self._working = working  # the jobs this process is working on
        self._lost = lost  # told the jobs it was working on that another process holds now, or cancelled
        self._processes = processes  # told how many processes run now, this one among them
        self._renew_every = storage.lease_seconds / 3
        self._renewed_at = 0.0

    async def take_over(self) -> TakenOver:
        """Take everything nobody holds now, in batches, and hand it to the runner."""
        taken = TakenOver()
        while True:
            batch = await self._look()
            taken.jobs += batch.jobs
            taken.interactions += batch.interactions
            if batch:
                self._took(batch)
            if len(batch.jobs) < BATCH:
                return taken

    async def run(self) -> None:
        """Beat until cancelled, the first time at once."""
        loop = asyncio.get_running_loop()
        self._renewed_at = -math.inf
        while True:
            try:
                if loop.time() - self._renewed_at >= self._renew_every:
                    await self._renew()
                await self.take_over()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the job leases could not be kept; trying again")
            await asyncio.sleep(min(LOOK_EVERY_SECONDS, self._renew_every))

    async def let_go(self) -> None:
        """Give up every lease (a clean stop): another process carries the work on at once."""
        async with self._storage.transaction() as tx:
            count = await tx.jobs.let_go()
        if count:
            log.info("let go of %d jobs for another process to carry on", count)

    async def _renew(self) -> None:
        working = self._working()
        async with self._storage.transaction() as tx:
            held = await tx.jobs.renew()
            missing = working - held
            lost = await tx.jobs.held_elsewhere(missing) if missing else set()
            cancelled = await tx.jobs.cancelled_among(missing - lost) if missing - lost else set()
            processes = await tx.jobs.beat()
        self._renewed_at = asyncio.get_running_loop().time()
        self._processes(processes)
        if lost:
            log.warning("jobs %s were taken over by another process while this one was held up", sorted(lost))
        if cancelled:  # pressed in another process: the member's next job in this one's queue moves up now
            log.info("jobs %s were cancelled in another process", sorted(cancelled))
        if lost or cancelled:
            self._lost(lost | cancelled)

    async def _look(self) -> TakenOver:
        async with self._storage.transaction() as tx:
            gone = await tx.proven_gone(await tx.jobs.other_holders())
            jobs = await tx.jobs.claim(self._origin, gone, BATCH)
            # Only the bot answers interactions: a terminal run must leave them to it.
            interactions = await tx.interactions.claim(gone) if self._origin is JobOrigin.DISCORD else []
        if jobs:
            log.info("took over %d jobs%s", len(jobs), f" of stopped processes {', '.join(gone)}" if gone else "")
        return TakenOver(jobs, interactions)
