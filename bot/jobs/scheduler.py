"""Which jobs run now: a few per member, a global limit, and the bot's own queue behind them, oldest first.

How many run at once across members is the `Capacity` Pixazo's answers allow, up to the operator's
ceiling: a prompt that passed admission runs at once unless its member is at their cap or Pixazo pushed
back. A job waits at most `wait_limit` seconds from when it was admitted; then it is taken out of the queue
and handed to `expired` instead of being run. Waiting jobs are told their place when it changed enough
to matter (see `_worth_telling`), so the number of notices grows with the jobs, not with their square.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.models import Job
from bot.pixazo.capacity import Capacity

Work = Callable[[Job], Coroutine[Any, Any, None]]


class Scheduler:
    def __init__(
        self,
        *,
        member_max: int,
        capacity: Capacity,
        run: Work,
        waiting_moved: Callable[[Job, int], None],
        counts: Callable[[int, int], None],
        wait_limit: float,
        expired: Callable[[Job], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._member_max = member_max
        self._capacity = capacity
        self._run = run
        self._waiting_moved = waiting_moved  # told each waiting job's new place in the queue
        self._counts = counts  # told how many run and wait, after every change
        self._wait_limit = wait_limit
        self._expired = expired
        self._clock = clock
        self._waiting: dict[int, Job] = {}  # oldest first
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._shown: dict[int, int] = {}  # the place each waiting job was last told
        self._running: dict[int, asyncio.Task[None]] = {}
        self._by_member: Counter[tuple[int, int]] = Counter()
        self._closed = False

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def queue(self, job: Job) -> None:
        """Wait for a free slot, then run."""
        self._waiting[job.id] = job
        self.pump()
        if job.id in self._waiting:
            left = self._wait_limit - (self._clock() - job.created_at).total_seconds()
            self._timers[job.id] = asyncio.get_running_loop().call_later(max(0.0, left), self._expire, job.id)

    def run_now(self, job: Job) -> None:
        """Run at once, whatever the caps (a job resumed mid-flight already holds its place upstream)."""
        key = (job.guild_id, job.member_id)
        self._by_member[key] += 1
        task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
        self._running[job.id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(job.id, None)
            self._by_member[key] -= 1
            self.pump()

        task.add_done_callback(done)

    def job_ids(self) -> set[int]:
        """The jobs waiting or running here."""
        return {*self._waiting, *self._running}

    def drop(self, job_id: int) -> None:
        """Forget a job, waiting or running (another process holds it now, or it was cancelled): nothing of it is
        ended or told here."""
        if job_id in self._waiting:
            self._leave_queue(job_id)
        task = self._running.get(job_id)
        if task is not None:
            task.cancel()
        self.pump()

    def position(self, job_id: int) -> int | None:
        """1 for the next job to leave the queue; None when the job is not waiting."""
        for place, waiting_id in enumerate(self._waiting, start=1):
            if waiting_id == job_id:
                return place
        return None

    def pump(self) -> None:
        """Start waiting jobs as the caps allow, oldest first; tell the rest where they stand."""
        if self._closed:
            return
        for job_id, job in list(self._waiting.items()):
            if len(self._running) >= self._capacity.limit:
                break
            if self._by_member[(job.guild_id, job.member_id)] < self._member_max:
                self._leave_queue(job_id)
                self.run_now(job)
        self._counts(len(self._running), len(self._waiting))
        for place, job in enumerate(self._waiting.values(), start=1):
            if _worth_telling(self._shown.get(job.id), place):
                self._shown[job.id] = place
                self._waiting_moved(job, place)

    async def close(self) -> None:
        """Start nothing more and cancel what runs."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _expire(self, job_id: int) -> None:
        job = self._waiting.get(job_id)
        if job is None or self._closed:
            return
        self._leave_queue(job_id)
        self._expired(job)
        self.pump()

    def _leave_queue(self, job_id: int) -> Job:
        self._shown.pop(job_id, None)
        timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.cancel()
        return self._waiting.pop(job_id)


def _worth_telling(told: int | None, place: int) -> bool:
    """A waiting job hears its place first, then whenever it gained a quarter of it, and in the last three."""
    if told is None:
        return True
    return place < told and (place <= 3 or place <= told * 0.75)
