"""The bot as its own process (`python -m bot`), against a stand-in and a simulator in the test's process."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import sys
from pathlib import Path

from bot.models import JobState, ReservationState
from bot.money import Money
from bot.storage import open_sqlite
from tests.discord_standin import DiscordStandin
from tests.harness import DISCORD_TOKEN

ROOT = Path(__file__).resolve().parent.parent
_RUNNING: set[asyncio.subprocess.Process] = set()


@atexit.register
def _kill_leftovers() -> None:
    """A test that failed half-way leaves no bot running behind it."""
    for process in _RUNNING:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


class BotProcess:
    def __init__(self, tmp_path: Path, standin: DiscordStandin, sim_url: str, **settings: str) -> None:
        self.standin = standin
        self.log = tmp_path / "bot.log"
        self.database = tmp_path / "bot.db"
        self.env = {
            **os.environ,
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "PIXAZO_API_KEY": "sk-test-6b1f0c2d9e8a7f3b",
            "PIXAZO_BASE_URL": sim_url,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "POLL_MIN_SECONDS": "0.1",
            "POLL_MAX_SECONDS": "0.5",
            "LOG_LEVEL": "INFO",
            **settings,
        }
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.standin._ready.clear()
        with self.log.open("a") as log:
            log.write(f"--- start {self.starts + 1}\n")
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=self.env, cwd=ROOT, stdout=log, stderr=log
            )
        _RUNNING.add(self.process)
        self.starts += 1
        await self.standin.wait_ready(30)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()
        _RUNNING.discard(self.process)

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
        _RUNNING.discard(self.process)
        return code


async def money_on_record(path: Path) -> tuple[Money, Money]:
    """What a database holds: everything charged, and everything still reserved, from the reservations."""
    storage = await open_sqlite(path)
    try:
        async with storage.transaction() as tx:
            charged = await tx.spend.total_charged()
            jobs = await tx.jobs.by_state(list(JobState))
            reservations = [await tx.spend.get(job.reservation_id) for job in jobs if job.reservation_id is not None]
    finally:
        await storage.close()
    reserved = sum((r.amount for r in reservations if r is not None and r.state is ReservationState.RESERVED), Money(0))
    return charged, reserved
