"""Early wake-ups for jobs waiting to be polled: a webhook call says Pixazo is done with a job.

A job's poll loop sleeps with `sleep`; `wake` cuts that sleep short so the next result call happens at
once. Wake-ups are limited per job (Pixazo may call twice, or a stranger may replay a call), and while
webhooks keep arriving the planner can rely on them and poll only as a fallback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

_MIN_GAP = 1.0  # seconds between two wake-ups of one job
_TRUSTED_FOR = 600.0  # seconds after a webhook call during which webhooks are taken to be working


class Wakes:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[int, asyncio.Event] = {}
        self._woken_at: dict[int, float] = {}
        self._last_call: float | None = None

    def watch(self, job_id: int) -> None:
        """This process now carries the job: wake-ups for it count from here until `forget`."""
        self._events.setdefault(job_id, asyncio.Event())

    async def sleep(self, job_id: int, seconds: float) -> bool:
        """Sleep up to `seconds`; True if a wake-up ended it early."""
        event = self._events.setdefault(job_id, asyncio.Event())
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            event.clear()

    def wake(self, job_id: int) -> bool:
        """Poll this job at once; False (and nothing done) if it was woken less than a second ago or is
        not carried here (already ended, or never ours): nothing is kept for such a call."""
        now = self._clock()
        self._last_call = now
        event = self._events.get(job_id)
        if event is None or now - self._woken_at.get(job_id, -_MIN_GAP) < _MIN_GAP:
            return False
        self._woken_at[job_id] = now
        event.set()
        return True

    def forget(self, job_id: int) -> None:
        self._events.pop(job_id, None)
        self._woken_at.pop(job_id, None)

    @property
    def webhooks_working(self) -> bool:
        return self._last_call is not None and self._clock() - self._last_call < _TRUSTED_FOR
