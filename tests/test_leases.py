"""Leased jobs: two processes on one database (on each backend), as two storages or two runners in one test.

A process holds the jobs it works on by a lease it renews; another takes a job only once nobody holds it
(the lease ran out, or was let go at a clean stop), and the one that lost it can write nothing of it. The
same moments with real processes, paused and killed, are in `test_crash.py`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.errors import LeaseLostError
from bot.models import Delivery, Job, JobOrigin, JobRequest, JobState, ReservationState
from bot.money import Money
from bot.simulator import Endpoint, Simulator, SimulatorSettings
from bot.storage import Storage, open_storage
from tests.conftest import TEST_KEY, Serve
from tests.test_jobs import ALICE, CHANNEL, FAST, GUILD, World

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PRICE = Money(8_000)


async def held_job(storage: Storage) -> Job:
    """A job with its money reserved, recorded (and so held) by `storage`'s process."""
    async with storage.transaction() as tx:
        reservation = await tx.spend.reserve(
            guild_id=GUILD,
            member_id=ALICE,
            day="2026-12-06",
            utc_day="2026-12-06",
            unit_price=PRICE,
            images=1,
            now=NOW,
        )
        request = JobRequest(GUILD, CHANNEL, ALICE, "a leased fox", "square", "square_1_1")
        return await tx.jobs.insert(request, reservation=reservation, delivery=Delivery(), now=NOW)


async def claim(storage: Storage, gone: list[str] | None = None) -> list[int]:
    async with storage.transaction() as tx:
        return [job.id for job in await tx.jobs.claim(JobOrigin.DISCORD, gone or [], 10)]


async def proven_gone(storage: Storage, workers: list[str]) -> list[str]:
    async with storage.transaction() as tx:
        return await tx.proven_gone(workers)


async def test_a_lease_that_is_renewed_is_kept_and_one_that_is_not_runs_out(database_url: str) -> None:
    async with (
        open_storage(database_url, lease_seconds=0.3) as first,
        open_storage(database_url, lease_seconds=0.3) as second,
    ):
        job = await held_job(first)
        for _ in range(5):  # over half a second, renewed every tenth: never free
            assert await claim(second) == []
            await asyncio.sleep(0.1)
            async with first.transaction() as tx:
                assert await tx.jobs.renew() == {job.id}
        assert await proven_gone(second, [first.worker_name]) == []  # alive: its OS lock, its session, are held

        await asyncio.sleep(0.35)  # the first is held up past its lease
        assert await claim(second) == [job.id]
        assert await claim(second) == []  # taken once

        async with first.transaction() as tx:
            assert await tx.jobs.renew() == set()
            assert await tx.jobs.held_elsewhere([job.id]) == {job.id}


async def test_a_process_that_lost_a_lease_can_change_neither_the_job_nor_its_money(database_url: str) -> None:
    async with open_storage(database_url, lease_seconds=0.1) as first, open_storage(database_url) as second:
        job = await held_job(first)
        await asyncio.sleep(0.15)
        assert await claim(second) == [job.id]
        with pytest.raises(LeaseLostError) as lost:
            async with first.transaction() as tx:  # as `Endings.fail` does: the job's ending, then its money
                await tx.spend.settle(job.reservation_id or 0, charge_images=0, now=NOW)
                await tx.jobs.update(job.id, NOW, only_from=[JobState.RESERVED], state=JobState.FAILED)
        assert (lost.value.job_id, lost.value.holder) == (job.id, second.worker_name)
        async with second.transaction() as tx:
            still = await tx.jobs.get(job.id)
            reservation = await tx.spend.get(job.reservation_id or 0)
        assert still is not None and still.state is JobState.RESERVED
        assert reservation is not None
        assert (reservation.amount, reservation.state) == (PRICE, ReservationState.RESERVED)

        async with second.transaction() as tx:  # a job in another state than asked is no loss: nothing to do
            assert await tx.jobs.update(job.id, NOW, only_from=[JobState.QUEUED], state=JobState.FAILED) is None


async def test_a_clean_stop_lets_go_at_once_and_a_told_ending_ends_the_lease(database_url: str) -> None:
    async with open_storage(database_url, lease_seconds=600) as second:
        async with open_storage(database_url, lease_seconds=600) as first:
            job = await held_job(first)
            told = await held_job(first)
            async with first.transaction() as tx:
                await tx.jobs.update(told.id, NOW, state=JobState.FAILED, notified=True)
                assert await tx.jobs.let_go() == 1  # the told one held nothing any more
        assert await claim(second) == [job.id]  # well inside the ten-minute lease


async def test_a_worker_that_died_is_proven_gone(database_url: str) -> None:
    script = (
        "import asyncio, os, sys; from bot.storage import open_storage\n"
        "async def main():\n"
        "    storage = await open_storage(sys.argv[1], lease_seconds=600)\n"
        "    print(storage.worker_name, flush=True)\n"
        "    os._exit(9)  # no close, no let go: as a SIGKILL leaves it\n"
        "asyncio.run(main())\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, database_url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    dead = out.decode().strip()
    elsewhere = "another-host:1:abcd"
    async with open_storage(database_url) as storage:
        assert await proven_gone(storage, [storage.worker_name]) == []
        if database_url.startswith("sqlite"):  # an OS lock proves only this machine's workers gone
            assert await proven_gone(storage, [dead, elsewhere]) == [dead]
            return
        async with asyncio.timeout(5):  # the server ends the session once it sees the socket close
            while await proven_gone(storage, [dead]) != [dead]:
                await asyncio.sleep(0.05)
        assert await proven_gone(storage, [dead, elsewhere]) == [dead, elsewhere]  # no session anywhere: gone


async def test_a_paused_runner_loses_its_job_to_another_which_delivers_it_once(
    database_url: str, serve: Serve, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen in a review: two processes on one database both carried on one job; one failed it (releasing its
    money) while the other delivered it. Now the paused one, on waking, finds the job is not its own."""
    caplog.set_level(logging.INFO)
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.1, concurrency=1))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    first = World(database_url, http, base, simulator, FAST, lease_seconds=0.6)
    second = World(database_url, http, base, simulator, FAST, lease_seconds=0.6)
    await first.start()
    simulator.add_backlog(25)  # two and a half seconds of other work ahead
    job = await first.submit()
    await second.start()
    assert first.runner._heartbeat is not None
    first.runner._heartbeat.cancel()  # held up: its lifecycle still polls, but its leases are no longer renewed
    done = await second.until_final(job.id)
    assert done.state is JobState.DELIVERED
    assert job.id in second.sink.delivered and job.id not in first.sink.delivered
    assert not first.sink.failures and not second.sink.failures
    assert (await second.ledger.usage(GUILD, ALICE)).spent == PRICE
    assert simulator.count(Endpoint.SUBMIT) == 1
    await first.stop()
    assert (await second.ledger.usage(GUILD, ALICE)).spent == PRICE  # the first's stop settled nothing
    await second.stop()


async def test_a_runner_stopped_cleanly_hands_its_job_to_a_running_one_at_once(
    database_url: str, serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.1, concurrency=1))
    base = await serve(simulator.app) + "/z-image-turbo-834/v1"
    first = World(database_url, http, base, simulator, FAST, lease_seconds=600)
    second = World(database_url, http, base, simulator, FAST, lease_seconds=600)
    await first.start()
    await second.start()
    simulator.add_backlog(10)
    job = await first.submit()
    async with asyncio.timeout(5):
        while (await first.job(job.id)).state is not JobState.QUEUED:
            await asyncio.sleep(0.02)
    await first.stop()
    done = await second.until_final(job.id)  # within seconds, not the ten-minute lease
    assert done.state is JobState.DELIVERED and job.id in second.sink.delivered
    assert simulator.count(Endpoint.SUBMIT) == 1
    assert (await second.ledger.usage(GUILD, ALICE)).spent == PRICE
    await second.stop()
