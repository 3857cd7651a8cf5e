"""Pixazo's limits hold for the whole deployment: processes on one database share the ceiling on jobs at
Pixazo at once (counted in the database when a job is sent) and the ceiling on the call rate (split among
the processes whose heartbeat is live)."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp

from bot.models import JobState
from bot.pixazo.capacity import Throttle
from bot.simulator import Endpoint, Simulator, SimulatorSettings
from tests.conftest import TEST_KEY, Serve
from tests.test_jobs import FAST, World


def peak_at_pixazo(simulator: Simulator) -> int:
    """The most jobs Pixazo had at once, each from its submit's arrival to its end."""
    sent = {r.body["prompt"]: r.at for r in simulator.requests if r.endpoint == Endpoint.SUBMIT}
    moments = sorted(
        [(sent[job.prompt], 1) for job in simulator.jobs.values() if job.prompt in sent]
        + [(job.finishes_at, -1) for job in simulator.jobs.values() if job.prompt in sent]
    )
    peak = at_once = 0
    for _, change in moments:
        at_once += change
        peak = max(peak, at_once)
    return peak


async def test_two_processes_never_keep_more_jobs_at_pixazo_than_the_deployment_ceiling(
    database_url: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.1, concurrency=1))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    settings = dataclasses.replace(FAST, max_active_jobs=3)
    processes = [World(database_url, http, base, simulator, settings) for _ in range(2)]
    for process in processes:
        await process.start()
    jobs = [
        (process, await process.submit(f"fox {n}", member=n))  # a member each: no member's cap holds one back
        for n in range(10)
        for process in [processes[n % 2]]
    ]
    for process, job in jobs:
        done = await process.until_final(job.id, timeout=20)
        assert done.state is JobState.DELIVERED, done.failure_reason
    assert simulator.count(Endpoint.SUBMIT) == 10  # each sent once: waiting for room is not a refusal
    assert peak_at_pixazo(simulator) <= 3  # not 3 per process
    for process in processes:
        await process.stop()


async def test_the_call_rate_is_shared_among_the_live_processes(
    database_url: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    processes = [World(database_url, http, base, simulator, FAST, lease_seconds=0.6) for _ in range(2)]
    for process in processes:
        process.config = dataclasses.replace(process.config, pixazo_max_requests_per_second=40)
        await process.start()

    def ceilings() -> list[float]:
        return [process.services.pixazo.throttle.ceiling for process in processes[: len(live)]]

    live = processes
    async with asyncio.timeout(5):
        while ceilings() != [20, 20]:
            await asyncio.sleep(0.05)
    await processes[1].stop()  # a clean stop leaves the share at once
    live = processes[:1]
    async with asyncio.timeout(5):
        while ceilings() != [40]:
            await asyncio.sleep(0.05)
    await processes[0].stop()


def test_a_smaller_share_lowers_the_rate_at_once_and_a_larger_one_lets_it_grow_back() -> None:
    throttle = Throttle(100)
    throttle.share(4)
    assert (throttle.ceiling, throttle.rate) == (25, 25)
    throttle.share(1)
    assert throttle.ceiling == 100 and throttle.rate == 25  # grows back as calls succeed, not in one leap
    for _ in range(100):
        throttle.succeeded()
    assert throttle.rate == 100
