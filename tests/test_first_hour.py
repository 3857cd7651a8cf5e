"""The operator's first hour: every start-up failure is one readable line and a non-zero exit, never a traceback.

Each case runs the real command as its own process, the way an operator would, and checks what they see:
the exit code, one line on stderr naming the problem, and the database file as it was.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.bot import POSTING_PERMISSIONS
from bot.simulator import BASE_PATH, Simulator, SimulatorSettings
from bot.storage import open_sqlite
from tests.conftest import TEST_KEY, Serve
from tests.discord_standin import DiscordStandin
from tests.harness import DISCORD_TOKEN, GUILD, Harness
from tests.test_operations import ROOT, base_env, free_port, run_bot

# View Channels, Send Messages, Send Messages in Threads, Embed Links, Attach Files, Read Message History
INVITE_PERMISSIONS = 274878024704


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The process failed with exactly one line on stderr that holds every one of `words`."""
    assert result.returncode not in (0, None), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def quiet_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The test settings with logs at WARNING, so whatever stderr holds is the failure itself."""
    return base_env(tmp_path) | {"LOG_LEVEL": "WARNING"} | settings


# --- the database -----------------------------------------------------------------------------------


def test_a_database_url_naming_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "imagine.db").mkdir()
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///imagine.db"), cwd=tmp_path)
    assert_one_line(result, "imagine.db", "folder", "DATABASE_URL")
    assert not any((tmp_path / "imagine.db").iterdir())


@pytest.mark.parametrize("content", [b"hello, I am a shopping list\n", b"\x00" * 4096])
def test_a_file_that_is_not_sqlite_is_refused_and_left_as_it_was(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///notes.db"), cwd=tmp_path)
    assert_one_line(result, "notes.db is not an imagine-bot database", "point DATABASE_URL at another file")
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_another_programs_sqlite_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    before = path.read_bytes()
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///other.db"), cwd=tmp_path)
    assert_one_line(result, "other.db is not an imagine-bot database")
    assert path.read_bytes() == before


async def test_a_database_from_a_newer_version_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "imagine.db"
    await (await open_sqlite(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = path.read_bytes()
    result = await asyncio.to_thread(
        run_bot, env=quiet_env(tmp_path, DATABASE_URL="sqlite:///imagine.db"), cwd=tmp_path
    )
    assert_one_line(result, "newer", "999")
    assert path.read_bytes() == before


def test_a_missing_folder_is_refused_rather_than_starting_an_empty_ledger_elsewhere(tmp_path: Path) -> None:
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///dta/imagine.db"), cwd=tmp_path)
    assert_one_line(result, "dta", "does not exist", "DATABASE_URL")
    assert not (tmp_path / "dta").exists()


def test_the_default_data_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    env = quiet_env(tmp_path)
    del env["DATABASE_URL"]
    result = run_bot(env=env, cwd=tmp_path)
    assert_one_line(result, "data", "DATABASE_URL")
    assert (tmp_path / "data").read_text() == "a file where the folder should be"


def test_check_reports_an_unusable_database_in_its_table(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_bytes(b"not a database")
    result = run_bot("check", env=quiet_env(tmp_path, DATABASE_URL="sqlite:///notes.db"), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is not an imagine-bot database" in result.stdout
    assert (tmp_path / "notes.db").read_bytes() == b"not a database"


# --- Discord -------------------------------------------------------------------------------------


class SilentHost:
    """A host that accepts connections and never answers, like a stuck proxy."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v10"

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self.connected.set()

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def silent_host() -> AsyncIterator[SilentHost]:
    host = SilentHost()
    yield host
    await host.close()


def unreachable_urls() -> dict[str, str]:
    return {
        "no such host": "http://imagine-bot-test.invalid/api/v10",
        "connection refused": f"http://127.0.0.1:{free_port()}/api/v10",
    }


@pytest.mark.parametrize("command", ["run", "sync"])
@pytest.mark.parametrize("why", ["no such host", "connection refused"])
async def test_discord_out_of_reach_is_one_line(tmp_path: Path, command: str, why: str) -> None:
    env = quiet_env(tmp_path, DISCORD_API_BASE_URL=unreachable_urls()[why])
    result = await asyncio.to_thread(run_bot, command, env=env, cwd=tmp_path)
    assert_one_line(result, "cannot reach Discord", "DISCORD_API_BASE_URL")


@pytest.mark.parametrize("command", ["run", "sync"])
async def test_a_discord_url_that_is_not_discords_api_is_one_line(tmp_path: Path, serve: Serve, command: str) -> None:
    env = quiet_env(tmp_path, DISCORD_API_BASE_URL=await serve(web.Application()) + "/api/v10")
    result = await asyncio.to_thread(run_bot, command, env=env, cwd=tmp_path)
    assert_one_line(result, "HTTP 404", "DISCORD_API_BASE_URL")


def test_a_discord_url_with_a_password_is_refused_without_showing_it(tmp_path: Path) -> None:
    env = quiet_env(tmp_path, DISCORD_API_BASE_URL="http://operator:hunter2-proxy@127.0.0.1:9/api/v10")
    result = run_bot(env=env, cwd=tmp_path)
    assert result.returncode == 2 and "DISCORD_API_BASE_URL" in assert_one_line(result)
    assert "hunter2" not in result.stderr  # a password in a URL is a secret too


@pytest.mark.parametrize("command", ["run", "sync"])
async def test_a_token_discord_refuses_is_one_line(tmp_path: Path, command: str) -> None:
    standin = DiscordStandin(token="another-bots-token", guilds={GUILD: []})
    await standin.start()
    try:
        env = quiet_env(tmp_path, DISCORD_API_BASE_URL=standin.api_base)
        result = await asyncio.to_thread(run_bot, command, env=env, cwd=tmp_path)
    finally:
        await standin.close()
    assert_one_line(result, "Discord refused the token", "DISCORD_TOKEN")
    assert DISCORD_TOKEN not in result.stderr


@pytest.mark.parametrize("command", ["run", "sync"])
async def test_a_login_that_never_completes_gives_up_after_the_timeout(
    tmp_path: Path, silent_host: SilentHost, command: str
) -> None:
    env = quiet_env(tmp_path, DISCORD_API_BASE_URL=await silent_host.start(), DISCORD_LOGIN_TIMEOUT_SECONDS="0.5")
    result = await asyncio.to_thread(run_bot, command, env=env, cwd=tmp_path)
    assert_one_line(result, "did not answer", "0.5", "DISCORD_API_BASE_URL")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_during_login_is_clean(tmp_path: Path, silent_host: SilentHost, signum: signal.Signals) -> None:
    env = quiet_env(tmp_path, DISCORD_API_BASE_URL=await silent_host.start())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env={**os.environ, **env}, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    await asyncio.wait_for(silent_host.connected.wait(), 30)
    process.send_signal(signum)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_sync_to_a_server_the_bot_is_not_in_is_one_line(tmp_path: Path) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    standin.fail("PUT", rf"/guilds/{GUILD}/commands", 403, code=50001)
    await standin.start()
    try:
        env = quiet_env(tmp_path, DISCORD_API_BASE_URL=standin.api_base)
        result = await asyncio.to_thread(run_bot, "sync", "--guild", str(GUILD), env=env, cwd=tmp_path)
    finally:
        await standin.close()
    assert_one_line(result, "refused to register the commands", str(GUILD), "HTTP 403")


# --- ports -------------------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program is listening on, on every interface."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))  # noqa: S104 - where the bot listens for metrics and webhooks
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_metrics_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    result = run_bot(env=quiet_env(tmp_path, METRICS_PORT=str(taken_port)), cwd=tmp_path)
    assert_one_line(result, f"port {taken_port}", "METRICS_PORT", "in use")


def test_a_webhook_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    webhooks = {
        "PIXAZO_WEBHOOK_URL": "https://bot.example.org/hooks",
        "WEBHOOK_PORT": str(taken_port),
        "WEBHOOK_SECRET": "a-webhook-secret-of-some-length",
    }
    result = run_bot(env=quiet_env(tmp_path, **webhooks), cwd=tmp_path)
    assert_one_line(result, f"port {taken_port}", "WEBHOOK_PORT", "in use")


def test_a_simulator_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    result = run_bot("simulate", "--port", str(taken_port), env={}, cwd=tmp_path)
    assert_one_line(result, f"port {taken_port}", "--port", "in use")


async def test_only_run_serves_metrics_so_the_other_commands_never_collide_with_a_running_bot(
    tmp_path: Path, taken_port: int, serve: Serve
) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    await standin.start()
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.05))
    env = base_env(tmp_path, await serve(simulator.app) + BASE_PATH) | {
        "METRICS_PORT": str(taken_port),
        "DISCORD_API_BASE_URL": standin.api_base,
        "POLL_MIN_SECONDS": "0.05",
    }
    try:
        for command in (["sync", "--guild", str(GUILD)], ["check"], ["imagine", "a fox", "-o", "fox.png"]):
            result = await asyncio.to_thread(run_bot, *command, env=env, cwd=tmp_path)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
    finally:
        await standin.close()


# --- the terminal command ----------------------------------------------------------------------------


async def test_imagine_needs_no_discord_token(tmp_path: Path, serve: Serve) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.05))
    env = base_env(tmp_path, await serve(simulator.app) + BASE_PATH) | {"DISCORD_TOKEN": "", "POLL_MIN_SECONDS": "0.05"}
    result = await asyncio.to_thread(run_bot, "imagine", "a fox", "-o", "fox.png", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fox.png").read_bytes().startswith(b"\x89PNG")


def test_the_other_commands_still_need_the_discord_token(tmp_path: Path) -> None:
    for command in ("run", "sync", "check"):
        result = run_bot(command, env=quiet_env(tmp_path, DISCORD_TOKEN=""), cwd=tmp_path)
        assert result.returncode == 2 and "DISCORD_TOKEN is missing" in assert_one_line(result)


# --- where the bot stands ----------------------------------------------------------------------------


async def test_ready_says_who_where_and_how_to_invite_in_one_line(
    bot_database: str, simulator: Simulator, sim_url: str, standin: DiscordStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    harness = Harness(bot_database, simulator, sim_url, standin)
    await harness.start()
    try:
        async with asyncio.timeout(10):
            while not any("Logged in as" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.01)  # on_ready runs just after the bot is ready
    finally:
        await harness.stop()
    (line,) = [r.getMessage() for r in caplog.records if "Logged in as" in r.getMessage()]
    assert f"(id {standin.bot_user_id}) in 1 servers, shards 0 of 1" in line
    invite = f"client_id={standin.application_id}&scope=bot+applications.commands&permissions={INVITE_PERMISSIONS}"
    assert invite in line


def test_the_readme_invite_link_asks_for_what_the_bot_uses() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"scope=bot+applications.commands&permissions={INVITE_PERMISSIONS}" in readme
    assert POSTING_PERMISSIONS.value == INVITE_PERMISSIONS
    assert "Send Messages in Threads" in readme


async def check_with(tmp_path: Path, *, pixazo: str, discord: str) -> subprocess.CompletedProcess[str]:
    env = base_env(tmp_path, pixazo) | {"DISCORD_API_BASE_URL": discord}
    return await asyncio.to_thread(run_bot, "check", env=env, cwd=tmp_path)


async def test_check_asks_discord_about_the_token_for_free(tmp_path: Path, serve: Serve) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    await standin.start()
    try:
        simulator = Simulator(SimulatorSettings(api_key=TEST_KEY))
        result = await check_with(tmp_path, pixazo=await serve(simulator.app) + BASE_PATH, discord=standin.api_base)
    finally:
        await standin.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"discord token\s+ok\s+accepted: logged in as imagine-bot", result.stdout), result.stdout
    assert [r.path for r in standin.requests] == ["/api/v10/users/@me"]


async def test_check_tells_refused_apart_from_unreachable(tmp_path: Path, serve: Serve) -> None:
    standin = DiscordStandin(token="another-bots-token", guilds={GUILD: []})
    await standin.start()
    try:
        simulator = Simulator(SimulatorSettings(api_key="another-key"))
        refused = await check_with(tmp_path, pixazo=await serve(simulator.app) + BASE_PATH, discord=standin.api_base)
    finally:
        await standin.close()
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = await check_with(tmp_path, pixazo=nowhere + BASE_PATH, discord=nowhere + "/api/v10")
    assert refused.returncode == unreachable.returncode == 1
    assert re.search(r"pixazo key\s+BAD\s+refused", refused.stdout), refused.stdout
    assert re.search(r"discord token\s+BAD\s+refused", refused.stdout), refused.stdout
    assert re.search(r"pixazo key\s+BAD\s+unreachable", unreachable.stdout), unreachable.stdout
    assert re.search(r"discord token\s+BAD\s+unreachable", unreachable.stdout), unreachable.stdout
    assert unreachable.stderr == ""  # the retries' reasons are in the table, not in lines around it
    assert DISCORD_TOKEN not in refused.stdout + unreachable.stdout


# --- sync --------------------------------------------------------------------------------------------


async def test_sync_clear_removes_a_servers_copy_of_the_commands(tmp_path: Path) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    await standin.start()
    try:
        env = base_env(tmp_path) | {"DISCORD_API_BASE_URL": standin.api_base}
        result = await asyncio.to_thread(run_bot, "sync", "--guild", str(GUILD), "--clear", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"Removed the slash commands of server {GUILD}" in result.stdout
        (put,) = standin.requests_to(r"/applications/\d+/(guilds/\d+/)?commands", "PUT")
        assert put.path.endswith(f"/guilds/{GUILD}/commands") and put.json == []
        refused = await asyncio.to_thread(run_bot, "sync", "--clear", env=env, cwd=tmp_path)
        assert refused.returncode == 2 and "--clear needs --guild" in refused.stderr
    finally:
        await standin.close()
