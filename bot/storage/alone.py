"""The OS lock a bot process holds beside its SQLite file while it runs the job engine.

Until jobs are leased, two bot processes on one file would both resume every unfinished job: in a review
one failed a job, releasing its money, while the other delivered it. So `python -m bot` holds an exclusive
lock on `<database>.lock` for as long as it runs, and a second one waits for the first to stop instead of
starting beside it: an overlapping restart carries on the moment the old process is gone. The OS drops the
lock when its process ends, however it ends, so a crash never leaves it held, and holding it proves that no
predecessor is still at work. The terminal command (`imagine`) does not take it: the bot never resumes
terminal jobs, nor the terminal the bot's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from bot.errors import StartupError

log = logging.getLogger(__name__)
RETRY_SECONDS = 0.2


@contextlib.asynccontextmanager
async def running_alone(database: Path) -> AsyncIterator[None]:
    """Hold the database's lock for the block, waiting first for any other bot process that holds it."""
    lock = database.with_name(database.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StartupError(f"cannot create {lock} ({exc.strerror or exc}): check the folder in DATABASE_URL.") from None
    try:
        if not _take(fd):
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            log.warning(
                "another imagine-bot process (pid %s) is running on %s: waiting for it to stop", holder, database
            )
            # Polled: a blocking flock in a thread could not be cancelled, and would hold up a Ctrl-C.
            while not _take(fd):  # noqa: ASYNC110
                await asyncio.sleep(RETRY_SECONDS)
            log.info("the other process has stopped: starting")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # lets the lock go


def _take(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
