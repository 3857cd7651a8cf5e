"""Databases for tests: a SQLite file in the test's folder, or a fresh database on the PostgreSQL server that
`.ci/run` starts (its URL in TEST_POSTGRES_URL).

Outside CI, without a server, the PostgreSQL cases skip with the reason; in CI (CI=true) they fail instead,
so a run that lost its server cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

BACKENDS = ("sqlite", "postgres")


def postgres_server_url() -> str:
    """The server's URL (any database on it), or the skip (the failure, in CI) that says why there is none."""
    url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if url:
        return url
    reason = "no PostgreSQL server for the tests: set TEST_POSTGRES_URL (.ci/run starts one and sets it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards (whoever is still connected)."""
    import asyncpg

    server = postgres_server_url()
    name = f"test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(server, name)
    finally:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def database_url_for(backend: str, folder: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder}/imagine.db"
        return
    async with postgres_database() as url:
        yield url


class PostgresServer:
    """A PostgreSQL server of a test's own, for what the shared one must not go through: being stopped."""

    def __init__(self) -> None:
        postgres_server_url()  # skips (fails, in CI) where the tests have no PostgreSQL
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
        if not found:
            pytest.fail("TEST_POSTGRES_URL is set but no PostgreSQL programs are in /usr/lib/postgresql")
        self._bin = found[-1].parent
        # Not under pytest's folders, which the postgres user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="imagine-pg-"))
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb and pg_ctl refuse root
            shutil.chown(self.folder, "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql://postgres@/postgres?host={self.folder}"

    def start(self) -> None:
        options = f"-k {self.folder} -c listen_addresses='' -c fsync=off"
        data, log = str(self.folder / "data"), str(self.folder / "log")
        self._run("pg_ctl", "-D", data, "-l", log, "-w", "start", "-o", options)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.folder / "data" / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self._as_postgres, str(self._bin / program), *args], check=True, capture_output=True)


async def execute_raw(database_url: str, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run one statement (SQLite's dialect, as the tables write it) behind the bot's back: rows as an older
    version or a crashed process left them."""
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql, params)
        return
    import asyncpg

    from bot.storage.pg_dialect import translate

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(translate(sql), *params)
    finally:
        await conn.close()


async def dump_rows(database_url: str) -> list[str]:
    """Every row of every table, one line each in a stable order: to compare a database before and after, or
    to search it for what must never be stored."""
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return list(conn.iterdump())
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
        )
        lines = []
        for (table,) in tables:
            rows = await conn.fetch(f'SELECT * FROM "{table}"')  # noqa: S608
            lines += sorted(f"{table}: {tuple(row.values())!r}" for row in rows)
        return lines
    finally:
        await conn.close()
