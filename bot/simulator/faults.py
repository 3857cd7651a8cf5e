"""The faults a simulator injects: those a test queues for the next calls, then those it keeps up all along.

A standing fault (`SimulatorSettings.standing_faults`, the flags of `python -m bot simulate`) hits a share of
every call to its endpoints, so an operator can rehearse an outage against the real bot.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque

from aiohttp import web

from bot.simulator.answers import error
from bot.simulator.models import Endpoint, Fault, FaultKind, StandingFault

_MESSAGES = {402: "Insufficient Balance", 429: "Rate limit exceeded, please retry later"}


class Faults:
    def __init__(self, standing: tuple[StandingFault, ...], rng: random.Random) -> None:
        self._queued: dict[Endpoint, deque[Fault]] = {endpoint: deque() for endpoint in Endpoint}
        self._standing = standing
        self._rng = rng

    def inject(self, endpoint: Endpoint, fault: Fault, times: int = 1) -> None:
        self._queued[endpoint].extend([fault] * times)

    def clear(self) -> None:
        for queue in self._queued.values():
            queue.clear()

    def next(self, endpoint: Endpoint) -> Fault | None:
        """The fault the next call to `endpoint` meets, if any."""
        if self._queued[endpoint]:
            return self._queued[endpoint].popleft()
        for standing in self._standing:
            if endpoint in standing.endpoints and self._rng.random() < standing.rate:
                return standing.fault
        return None


async def answer(fault: Fault | None) -> Fault | web.StreamResponse | None:
    """Answer a fault that is just a status or a body here; a slow one waits and lets the call go on.

    What is left (dropped connections, truncated images, results that go wrong) the handler acts out.
    """
    if fault is None:
        return None
    if fault.kind is FaultKind.SLOW:
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind is FaultKind.STATUS:
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
        return error(fault.status, _MESSAGES.get(fault.status, f"Simulated error {fault.status}"), headers=headers)
    if fault.kind is FaultKind.MALFORMED_JSON:
        return web.Response(text='{"status": "COMPL', content_type="application/json")
    if fault.kind is FaultKind.MISSING_FIELDS:
        return web.json_response({"unexpected": True})
    return fault
