"""Ledger throughput: prints one JSON line.

    python bench/ledger_bench.py [--reservations 5000] [--concurrent 50]

`reservations_per_second`: one process, one connection, reservations one after another (each is a
full BEGIN IMMEDIATE … COMMIT with the budget checks). `reserve_p99_ms`: the 99th percentile
latency when `--concurrent` callers reserve at once through the same ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.ledger import BudgetDefaults, Ledger
from bot.money import Money
from bot.storage import open_sqlite

DEFAULTS = BudgetDefaults(
    Money(8_000), Money(10**12), guild_daily_limit=Money(10**12), global_daily_limit=Money(10**12)
)


async def run(reservations: int, concurrent: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        storage = await open_sqlite(Path(folder) / "bench.db")
        ledger = Ledger(storage, DEFAULTS, lambda: datetime.now(UTC))
        try:
            start = time.perf_counter()
            for index in range(reservations):
                await ledger.reserve(guild_id=index % 10, member_id=index % 500, role_ids=[1, 2], images=1)
            sequential = time.perf_counter() - start

            latencies: list[float] = []

            async def caller(member: int) -> None:
                for _ in range(20):
                    began = time.perf_counter()
                    await ledger.reserve(guild_id=1, member_id=member, role_ids=[], images=1)
                    latencies.append(time.perf_counter() - began)

            await asyncio.gather(*(caller(member) for member in range(concurrent)))
        finally:
            await storage.close()
    latencies.sort()
    return {
        "reservations_per_second": round(reservations / sequential),
        "reserve_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "reserve_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "concurrent_callers": concurrent,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=5000)
    parser.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.reservations, args.concurrent))))


if __name__ == "__main__":
    main()
