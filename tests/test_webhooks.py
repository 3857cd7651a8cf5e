"""Completion by webhook: Pixazo's call makes the job's next result call happen at once, and nothing more.

The runner is the real one, its endpoint the real aiohttp application `run` serves, the caller the
simulator (which calls each submit's `X-Webhook-URL` when the job ends, late, twice or never, as told).
Polling is slowed to far beyond the test's patience (except where polling is the point), so a job that
ends quickly was woken by its webhook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.config import Secret
from bot.jobs import RunnerSettings
from bot.jobs.wakes import Wakes
from bot.models import JobState
from bot.money import Money
from bot.simulator import Endpoint, Simulator, SimulatorSettings
from bot.webhooks import WebhookUrls, webhook_app
from tests.conftest import TEST_KEY
from tests.test_jobs import ALICE, GUILD, RecordingSink, World

SLOW_POLLS = RunnerSettings(poll_min_seconds=30.0, poll_max_seconds=60.0, max_poll_errors=3)
FAST_POLLS = RunnerSettings(poll_min_seconds=0.05, poll_max_seconds=0.2, max_poll_errors=3)
SECRET = "webhook-secret-for-tests"


class WebhookWorld(World):
    """A `World` whose runner gives Pixazo webhook URLs, served where the simulator can call them."""

    def __init__(
        self,
        database_url: str,
        http: aiohttp.ClientSession,
        sim_url: str,
        simulator: Simulator,
        settings: RunnerSettings,
    ) -> None:
        super().__init__(database_url, http, sim_url, simulator, settings)
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.config = dataclasses.replace(
            self.config, pixazo_webhook_url=self.base_url, webhook_secret=Secret(SECRET), webhook_port=0
        )
        self._endpoint: web.AppRunner | None = None

    async def start(self, sink: RecordingSink | None = None) -> None:
        await super().start(sink)
        assert self.services.webhooks is not None
        self._endpoint = web.AppRunner(
            webhook_app(self.services.webhooks, self.services.wakes.wake), shutdown_timeout=0.1
        )
        await self._endpoint.setup()
        await web.SockSite(self._endpoint, self._socket).start()

    async def stop(self) -> None:
        await super().stop()
        if self._endpoint is not None:
            await self._endpoint.cleanup()


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.3, queue_depth=2)


@pytest.fixture
async def world(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> AsyncIterator[WebhookWorld]:
    world = WebhookWorld(bot_database, http, sim_url, simulator, SLOW_POLLS)
    await world.start()
    yield world
    await world.stop()


def status_calls(simulator: Simulator) -> int:
    return simulator.count(Endpoint.RESULT)


async def test_a_valid_call_delivers_the_job_at_once_and_is_charged_once(world: WebhookWorld) -> None:
    job = await world.submit()
    async with asyncio.timeout(10):  # polling alone would wait up to a minute
        done = await world.until_final(job.id)
    assert done.state is JobState.DELIVERED
    assert [status for _, _, status in world.simulator.webhook_calls] == [204]
    submit = next(r for r in world.simulator.requests if r.endpoint == Endpoint.SUBMIT)
    assert submit.headers["X-Webhook-URL"].startswith(f"{world.base_url}/pixazo/{job.id}/")
    usage = await world.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved, usage.images) == (Money(8_000), Money(0), 1)


async def test_a_forged_call_gets_404_and_changes_nothing(world: WebhookWorld, http: aiohttp.ClientSession) -> None:
    world.simulator.settings = dataclasses.replace(world.simulator.settings, webhooks=False)
    job = await world.submit()
    await asyncio.sleep(0.8)  # the job has ended at Pixazo; nobody has told the bot
    calls_before = status_calls(world.simulator)
    forged = WebhookUrls(world.base_url, Secret("not-the-secret")).url_for(job.id)
    for url in (forged, f"{world.base_url}/pixazo/{job.id}/", f"{world.base_url}/pixazo/x{job.id}/abc"):
        async with http.post(url, json={"status": "COMPLETED"}) as resp:
            assert resp.status == 404
    await asyncio.sleep(0.5)
    assert status_calls(world.simulator) == calls_before
    assert (await world.job(job.id)).state is not JobState.DELIVERED
    assert not world.services.wakes.webhooks_working


async def test_a_duplicated_call_delivers_once(world: WebhookWorld) -> None:
    world.simulator.settings = dataclasses.replace(world.simulator.settings, webhook_copies=3)
    job = await world.submit()
    done = await world.until_final(job.id)
    assert done.state is JobState.DELIVERED
    await asyncio.sleep(0.3)
    assert len(world.simulator.webhook_calls) == 3  # each answered, only the first woke the job
    assert len(world.sink.delivered) == 1


async def test_a_dropped_call_leaves_polling_to_deliver(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    simulator.settings = dataclasses.replace(simulator.settings, webhook_drop=True)
    world = WebhookWorld(bot_database, http, sim_url, simulator, FAST_POLLS)
    await world.start()
    try:
        job = await world.submit()
        done = await world.until_final(job.id)
    finally:
        await world.stop()
    assert done.state is JobState.DELIVERED
    assert simulator.webhook_calls == []


async def test_a_late_call_for_a_finished_job_changes_nothing(
    bot_database: str, http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    simulator.settings = dataclasses.replace(simulator.settings, webhook_delay=1.0)
    world = WebhookWorld(bot_database, http, sim_url, simulator, FAST_POLLS)
    await world.start()
    try:
        job = await world.submit()
        await world.until_final(job.id)  # by polling, before the call comes
        calls_before = status_calls(simulator)
        async with asyncio.timeout(5):
            while not simulator.webhook_calls:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert simulator.webhook_calls[0][2] == 204
        assert status_calls(simulator) == calls_before
        assert len(world.sink.delivered) == 1
        assert (await world.job(job.id)).state is JobState.DELIVERED
    finally:
        await world.stop()


async def test_wake_ups_are_limited_per_job_and_kept_only_for_jobs_carried_here() -> None:
    now = [100.0]
    wakes = Wakes(clock=lambda: now[0])
    assert not wakes.wake(7)  # not carried here (ended, or another process's): nothing is kept
    assert wakes._events == {} and wakes._woken_at == {}
    wakes.watch(7)
    assert wakes.wake(7)
    assert await wakes.sleep(7, 5.0)  # the wake-up came while the job was between polls: it is not lost
    assert not wakes.wake(7)  # a replay within the second
    now[0] += 1.0
    assert wakes.wake(7)
    wakes.forget(7)
    assert wakes._events == {} and wakes._woken_at == {}
    assert wakes.webhooks_working
