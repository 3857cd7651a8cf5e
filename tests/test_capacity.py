"""How much the bot asks of Pixazo at once: it backs off sharply when Pixazo pushes back, and recovers."""

from __future__ import annotations

import asyncio

import pytest

from bot.models import JobState
from bot.pixazo.capacity import Capacity, Throttle
from bot.simulator import Endpoint, Fault, FaultKind
from tests.test_jobs import World, sim_settings, world  # noqa: F401 - the job tests' fixtures


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_capacity_halves_on_a_refusal_and_grows_back_one_success_at_a_time() -> None:
    capacity = Capacity(100)
    assert capacity.limit == 100  # the operator's ceiling: nothing is held back until Pixazo says so
    capacity.refused(in_flight=40)
    assert capacity.limit == 20
    capacity.refused(in_flight=20)
    assert capacity.limit == 10
    for _ in range(15):
        capacity.succeeded()
    assert capacity.limit == 25
    for _ in range(200):
        capacity.succeeded()
    assert capacity.limit == 100  # never past the ceiling


async def test_a_429_storm_slows_the_calls_honours_retry_after_and_then_recovers() -> None:
    clock = FakeClock()
    throttle = Throttle(100, clock=clock)
    for _ in range(5):
        throttle.pushed_back(retry_after=None)
    assert throttle.rate == pytest.approx(100 / 32)
    throttle.pushed_back(retry_after=2.0)  # and Pixazo asked for a pause
    waiting = asyncio.create_task(throttle.wait())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # no call goes while Pixazo asked for a pause
    clock.now = 2.5
    await asyncio.wait_for(waiting, 2)
    for _ in range(100):
        throttle.succeeded()
    assert throttle.rate == 100  # back to the ceiling once calls succeed again


async def test_a_submit_refused_as_too_many_waits_its_turn_and_is_delivered(world: World) -> None:  # noqa: F811
    world.simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=429, retry_after=0.05), times=12)
    jobs = [await world.submit(f"fox {n}", member=n) for n in range(4)]  # four members, so no member cap holds them
    for job in jobs:
        done = await world.until_final(job.id, timeout=30)
        assert done.state is JobState.DELIVERED, done.failure_reason  # refused, never failed for it
    assert world.runner.capacity.limit < world.runner.capacity.ceiling  # it learnt Pixazo's limit
    accepted = [r for r in world.simulator.requests if r.endpoint == Endpoint.SUBMIT]
    assert len(accepted) == 12 + 4  # every refusal was one call, then each job was sent once
