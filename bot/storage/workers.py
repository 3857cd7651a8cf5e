"""Who holds a lease, and the proof that a holder is gone.

Every process that opens the database is a worker with a name of its own (`host:pid:random`); the leases it
takes on jobs carry that name. While the storage is open the worker holds an exclusive OS lock on a file
named after it in `<database>.workers/`. The OS drops the lock when the process ends, however it ends, so
another process on this machine that can take a worker's lock knows that worker is gone and need not wait
out its leases: a bot restarted after a crash resumes its predecessor's jobs at once. A worker on another
machine cannot be proven gone this way (SQLite is not shared across machines anyway): its leases expire.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import socket
from collections.abc import Iterable
from pathlib import Path

from bot.errors import StartupError


def worker_name() -> str:
    """A name no other process has had: the host and pid for the operator, a random part for pid reuse."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:64] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


class WorkerLock:
    """The OS lock a worker holds on its own file for as long as its storage is open."""

    def __init__(self, database: Path, name: str) -> None:
        self.name = name
        self._folder = database.with_name(database.name + ".workers")
        self._host = name.split(":", 1)[0]
        self._fd: int | None = None

    def hold(self) -> None:
        try:
            self._folder.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(self._file(self.name), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StartupError(
                f"cannot create a lock file in {self._folder} ({exc.strerror or exc}): check the folder in "
                "DATABASE_URL."
            ) from None
        fcntl.flock(fd, fcntl.LOCK_EX)  # a fresh name: nobody else takes this one
        self._fd = fd

    def let_go(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self._file(self.name).unlink()
        os.close(self._fd)
        self._fd = None

    def gone(self, names: Iterable[str]) -> list[str]:
        """The workers among `names` that are proven to have stopped (their lock is free, or its file gone)."""
        return [name for name in names if name != self.name and self._is_gone(name)]

    def others_running(self) -> list[str]:
        """The other workers holding their lock on this file now, on whichever host: those a copy must wait for."""
        running = []
        for path in sorted(self._folder.glob("*.lock")):
            name = path.stem.replace("_", ":")  # `_file` turned the name's colons into underscores
            if name == self.name:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                running.append(name)
            finally:
                os.close(fd)
        return running

    def _is_gone(self, name: str) -> bool:
        if name.split(":", 1)[0] != self._host:
            return False  # another machine's lock files are not ours to read
        path = self._file(name)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return True  # a worker deletes its file only once it stopped, and it holds it from its start
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # alive
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        return True

    def _file(self, name: str) -> Path:
        return self._folder / (name.replace(":", "_") + ".lock")
