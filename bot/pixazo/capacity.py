"""How much the bot asks of Pixazo at once, found from Pixazo's own answers instead of guessed.

`Capacity` is the number of jobs the bot keeps at Pixazo at once; `Throttle` is the rate of API calls.
Both start at the operator's ceiling, back off sharply when Pixazo answers 429 or 5xx (halving, and
holding every call for as long as a Retry-After says), and grow back step by step while calls succeed.
Pixazo publishes no limits, so its answers are the only measure there is.

The ceilings are the whole deployment's. The database counts the jobs at Pixazo when one is sent, so a
process that finds them all taken by others holds back (`Capacity.deployment_full`); the call rate is
split evenly among the processes running (`Throttle.share`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Capacity:
    """How many jobs may be at Pixazo at once from this process: between 1 and `ceiling`, halved on a
    refusal; fewer for a while when other processes hold the rest of the deployment's ceiling."""

    def __init__(
        self, ceiling: int, *, on_change: Callable[[], None] | None = None, recheck_seconds: float = 0.5
    ) -> None:
        self.ceiling = ceiling
        self._limit = float(ceiling)
        self._on_change = on_change
        self._recheck_seconds = recheck_seconds
        self._held: int | None = None  # what this process may run while the deployment is full
        self._recheck: asyncio.TimerHandle | None = None

    @property
    def limit(self) -> int:
        own = max(1, int(self._limit))
        return own if self._held is None else min(own, self._held)

    def deployment_full(self, running_here: int) -> None:
        """Every job the deployment may keep at Pixazo is there: run no more here than runs now. Room is
        looked for again as jobs here end, and one more every `recheck_seconds`, so a process with nothing
        running does not ask the database in a loop."""
        self._held = running_here
        if self._recheck is None:
            self._recheck = asyncio.get_running_loop().call_later(self._recheck_seconds, self._look_again)

    def refused(self, in_flight: int) -> None:
        """Pixazo refused a submit as too many: keep at most half of what is in flight now."""
        before = self.limit
        self._limit = max(1.0, min(self._limit, in_flight) / 2)
        if self.limit < before:
            log.warning("Pixazo is refusing work: at most %d jobs at once for now (was %d)", self.limit, before)

    def succeeded(self) -> None:
        """A job went through: one more may go at once, up to the ceiling."""
        if self._held is not None:
            self._widen()
        if self._limit < self.ceiling:
            before = self.limit
            self._limit = min(float(self.ceiling), self._limit + 1)
            if self.limit > before and self._on_change is not None:
                self._on_change()

    def _look_again(self) -> None:
        self._recheck = None
        if self._held is not None:
            self._widen()

    def _widen(self) -> None:
        assert self._held is not None
        self._held += 1
        if self._held >= self._limit:
            self._held = None
        if self._on_change is not None:
            self._on_change()


class Throttle:
    """The rate of calls to Pixazo: a token bucket whose rate adapts, and a pause while Pixazo asks for one."""

    def __init__(self, ceiling_per_second: float, *, clock: Clock = time.monotonic) -> None:
        self.deployment_ceiling = ceiling_per_second
        self.ceiling = ceiling_per_second  # this process's share of it
        self.rate = ceiling_per_second
        self._minimum = min(1.0, ceiling_per_second)
        self._clock = clock
        self._tokens = ceiling_per_second  # a second's worth may go at once
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for the turn of one call."""
        async with self._lock:  # calls wait their turn in order
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def share(self, processes: int) -> None:
        """`processes` run now (this one among them): keep to an even share of the deployment's ceiling."""
        self.ceiling = self.deployment_ceiling / max(1, processes)
        if self.rate > self.ceiling:
            self.rate = self.ceiling
            self._tokens = min(self._tokens, self.rate)

    def succeeded(self) -> None:
        self.rate = min(self.ceiling, self.rate + max(0.5, self.rate * 0.05))

    def pushed_back(self, retry_after: float | None) -> None:
        """Pixazo answered 429 or 5xx: halve the rate, and hold every call for as long as it asked."""
        before = self.rate
        self.rate = max(min(self._minimum, self.ceiling), self.rate / 2)
        self._tokens = min(self._tokens, self.rate)
        if retry_after:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
        if self.rate < before:
            log.info("Pixazo pushed back: %.1f calls a second for now (was %.1f)", self.rate, before)

    def _refill(self, now: float) -> None:
        self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
