"""A circuit breaker for the image service: after repeated failures, refuse new work for a while.

Closed: everything goes through. After `threshold` failures in a row it opens: new jobs are
refused at once, before any money is reserved. When the cool-down has passed, one probe is
let through; its success closes the breaker, its failure opens it for another cool-down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PROBING = "probing"


class CircuitBreaker:
    def __init__(
        self, *, threshold: int = 5, cooldown_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        return BreakerState.PROBING if self._probing else BreakerState.OPEN

    def probe_due(self) -> bool:
        """True once (per cool-down) when the breaker is open and it is time to try the service again."""
        if self._opened_at is None or self._probing:
            return False
        if self._clock() - self._opened_at < self.cooldown_seconds:
            return False
        self._probing = True
        return True

    def allows_new_work(self) -> bool:
        return self._opened_at is None

    def succeeded(self) -> None:
        if self._opened_at is not None:
            log.info("the image service answers again; accepting new work")
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failed(self) -> None:
        self._failures += 1
        if self._probing or (self._opened_at is None and self._failures >= self.threshold):
            if self._opened_at is None:
                log.warning(
                    "the image service failed %d times in a row; refusing new work for %.0fs",
                    self._failures,
                    self.cooldown_seconds,
                )
            self._opened_at = self._clock()
            self._probing = False
