"""The bot as its own process (`python -m bot`), against a stand-in and a simulator in the test's process."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import signal
import sys
from collections import Counter
from pathlib import Path

from bot.models import JobState, ReservationState
from bot.money import Money
from bot.storage import open_storage
from tests.discord_standin import DiscordStandin
from tests.harness import DISCORD_TOKEN

ROOT = Path(__file__).resolve().parent.parent
_IMAGE_FILE = re.compile(r"imagine-(\d+)-\d+\.")  # the bot names each image by its job
_RUNNING: set[asyncio.subprocess.Process] = set()


@atexit.register
def _kill_leftovers() -> None:
    """A test that failed half-way leaves no bot running behind it."""
    for process in _RUNNING:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


class BotProcess:
    def __init__(
        self, tmp_path: Path, standin: DiscordStandin, sim_url: str, database_url: str | None = None, **settings: str
    ) -> None:
        self.standin = standin
        self.log = tmp_path / "bot.log"
        self.database_url = database_url or f"sqlite:///{tmp_path / 'bot.db'}"
        self.env = {
            **os.environ,
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "PIXAZO_API_KEY": "sk-test-6b1f0c2d9e8a7f3b",
            "PIXAZO_BASE_URL": sim_url,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DATABASE_URL": self.database_url,
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


async def money_on_record(database_url: str) -> tuple[Money, Money]:
    """What a database holds: everything charged, and everything still reserved, from the reservations."""
    async with open_storage(database_url) as storage, storage.transaction() as tx:
        charged = await tx.spend.total_charged()
        jobs = await tx.jobs.by_state(list(JobState))
        reservations = [await tx.spend.get(job.reservation_id) for job in jobs if job.reservation_id is not None]
    reserved = sum((r.amount for r in reservations if r is not None and r.state is ReservationState.RESERVED), Money(0))
    return charged, reserved


def images_posted_per_job(standin: DiscordStandin) -> Counter[int]:
    """How many images of each job are visible in Discord (the stand-in), read from their file names."""
    posted: Counter[int] = Counter()
    for message in standin.messages.values():
        if not message.deleted:
            for stored in message.files:
                if match := _IMAGE_FILE.match(stored.filename):
                    posted[int(match[1])] += 1
    return posted
