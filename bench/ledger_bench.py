"""Ledger throughput, on either backend and across processes: prints one JSON line.

    python bench/ledger_bench.py [--backend sqlite|postgres] [--url URL] [--processes 1] [--callers 50]
                                 [--reservations 6000]

`sequential_per_second`: one caller in one process, reservations one after another (each a full transaction
with the budget checks). `reservations_per_second`, `reserve_p50_ms`, `reserve_p99_ms`: `--processes`
processes with `--callers` callers each reserving at once, `--reservations` in all, on one database.
`overspend_micros`: the same processes and callers then race for an operator's budget of 100 images, with
four times as many asking; what the database holds above the budget (0, or the ledger is wrong), and
`granted` must equal 100.

SQLite runs on a file in a temporary folder. PostgreSQL needs `--url` (or TEST_POSTGRES_URL): a server the
bench may create a scratch database on; it is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.errors import BudgetExceededError
from bot.ledger import BudgetDefaults, Ledger
from bot.money import Money
from bot.storage import open_storage

PRICE = Money(8_000)
UNLIMITED = Money(10**15)
RACE_IMAGES = 100
THROUGHPUT_DAY = datetime(2026, 1, 1, 12, tzinfo=UTC)
RACE_DAY = datetime(2026, 1, 2, 12, tzinfo=UTC)


def defaults(phase: str) -> BudgetDefaults:
    overall = PRICE * RACE_IMAGES if phase == "race" else UNLIMITED
    return BudgetDefaults(PRICE, UNLIMITED, guild_daily_limit=UNLIMITED, global_daily_limit=overall)


async def work(url: str, phase: str, attempts: int, callers: int, index: int, start_at: float) -> dict[str, object]:
    """One process's share: `callers` callers making `attempts` reservations in all, from `start_at` (wall clock)."""
    clock = THROUGHPUT_DAY if phase == "throughput" else RACE_DAY
    async with open_storage(url) as storage:
        ledger = Ledger(storage, defaults(phase), lambda: clock)
        await asyncio.sleep(max(0.0, start_at - time.time()))  # every process starts at the same moment
        began = time.time()
        latencies: list[float] = []
        granted = 0

        async def caller(number: int) -> None:
            nonlocal granted
            for turn in range(attempts // callers + (number < attempts % callers)):
                asked = time.perf_counter()
                member = (index * callers + number) * 1_000 + turn
                try:
                    await ledger.reserve(guild_id=member % 10, member_id=member, role_ids=[1, 2], images=1)
                    granted += 1
                except BudgetExceededError:
                    pass
                latencies.append(time.perf_counter() - asked)

        await asyncio.gather(*(caller(number) for number in range(callers)))
        return {"began": began, "ended": time.time(), "latencies": latencies, "granted": granted}


async def sequential(url: str, count: int) -> float:
    async with open_storage(url) as storage:
        ledger = Ledger(storage, defaults("throughput"), lambda: THROUGHPUT_DAY)
        start = time.perf_counter()
        for index in range(count):
            await ledger.reserve(guild_id=index % 10, member_id=index % 500, role_ids=[1, 2], images=1)
        return count / (time.perf_counter() - start)


async def in_processes(url: str, phase: str, attempts: int, processes: int, callers: int) -> list[dict[str, object]]:
    start_at = time.time() + 2.0  # time for every process to open its storage first
    share = [attempts // processes + (index < attempts % processes) for index in range(processes)]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            json.dumps([url, phase, share[index], callers, index, start_at]),
            stdout=asyncio.subprocess.PIPE,
        )
        for index in range(processes)
    ]
    outputs = [await worker.communicate() for worker in workers]
    if any(worker.returncode for worker in workers):
        raise SystemExit("a worker process failed")
    return [json.loads(out) for out, _ in outputs]


async def overall_reserved(url: str) -> Money:
    async with open_storage(url) as storage, storage.transaction() as tx:
        totals = await tx.spend.day_totals(0, 0, "2026-01-02", "2026-01-02")
    return totals.overall.reserved


@contextlib.asynccontextmanager
async def database(backend: str, server: str | None) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    import asyncpg

    if not server:
        raise SystemExit("--backend postgres needs --url (or TEST_POSTGRES_URL): a server for a scratch database")
    name = f"ledger_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(backend: str, server: str | None, processes: int, callers: int, reservations: int) -> dict[str, object]:
    async with database(backend, server) as url:
        async with open_storage(url):
            pass  # migrations applied once, before any timing
        one_by_one = await sequential(url, 1_000)
        results = await in_processes(url, "throughput", reservations, processes, callers)
        began = min(float(r["began"]) for r in results)  # type: ignore[arg-type]
        ended = max(float(r["ended"]) for r in results)  # type: ignore[arg-type]
        latencies = sorted(x for r in results for x in r["latencies"])  # type: ignore[attr-defined]
        raced = await in_processes(url, "race", RACE_IMAGES * 4, processes, callers)
        granted = sum(int(r["granted"]) for r in raced)  # type: ignore[call-overload]
        reserved = await overall_reserved(url)
    return {
        "backend": backend,
        "processes": processes,
        "callers_per_process": callers,
        "sequential_per_second": round(one_by_one),
        "reservations_per_second": round(len(latencies) / (ended - began)),
        "reserve_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "reserve_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "race_budget_images": RACE_IMAGES,
        "granted": granted,
        "overspend_micros": max(0, reserved.micros - (PRICE * RACE_IMAGES).micros),
        "reserved_equals_granted": reserved == PRICE * granted,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL"), help="a PostgreSQL server")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--reservations", type=int, default=6_000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        logging.disable(logging.WARNING)  # every refused reservation of the race is logged
        print(json.dumps(asyncio.run(work(*json.loads(args.worker)))))
        return
    print(json.dumps(asyncio.run(run(args.backend, args.url, args.processes, args.callers, args.reservations))))


if __name__ == "__main__":
    main()
