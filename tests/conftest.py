"""Shared fixtures: a real Pixazo simulator on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import Secret
from bot.pixazo import PixazoClient, RetryPolicy
from bot.simulator import BASE_PATH, Simulator, SimulatorSettings
from tests.databases import BACKENDS, database_url_for
from tests.discord_standin import DiscordStandin

TEST_KEY = "sk-test-6b1f0c2d9e8a7f3b"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, total_seconds=5.0)

Serve = Callable[[web.Application], Awaitable[str]]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-install", action="store_true", help="also run the tests that install packages from the index (CI does)"
    )
    parser.addoption(
        "--database",
        choices=BACKENDS,
        default="sqlite",
        help="the backend of every bot a test starts, where the test does not choose (default sqlite)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--database") != "sqlite":
        # Only the tests whose bot's database the option chooses: the others would repeat the default run.
        chosen = [item for item in items if "bot_database" in getattr(item, "fixturenames", ())]
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen
    install = pytest.mark.skip(reason="installs from the package index: run with --run-install (.ci/run does)")
    sqlite_file = pytest.mark.skip(reason="reads or writes the SQLite file itself: runs without --database postgres")
    for item in items:
        if "install" in item.keywords and not config.getoption("--run-install"):
            item.add_marker(install)
        if "sqlite_file" in item.keywords and config.getoption("--database") != "sqlite":
            item.add_marker(sqlite_file)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A DATABASE_URL for an empty database: a test that takes it runs once on each backend."""
    async with database_url_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def bot_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The DATABASE_URL of the bot a test starts: a SQLite file in the test's folder, or with
    `pytest --database postgres` a new PostgreSQL database, so the whole suite runs on either backend."""
    async with database_url_for(request.config.getoption("--database"), tmp_path) as url:
        yield url


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiohttp applications on free ports of 127.0.0.1; yields their base URLs."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.2)


@pytest.fixture
def simulator(sim_settings: SimulatorSettings) -> Simulator:
    return Simulator(sim_settings)


@pytest.fixture
async def sim_url(serve: Serve, simulator: Simulator) -> str:
    return await serve(simulator.app) + BASE_PATH


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def pixazo(http: aiohttp.ClientSession, sim_url: str) -> PixazoClient:
    return PixazoClient(http, api_key=Secret(TEST_KEY), base_url=sim_url, timeout=5.0, retry=FAST_RETRY)


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    from tests.harness import ARTISTS, CHANNEL, DISCORD_TOKEN, GUILD, MOD_CHANNEL, OTHER_CHANNEL

    standin = DiscordStandin(
        token=DISCORD_TOKEN, guilds={GUILD: [CHANNEL, OTHER_CHANNEL, MOD_CHANNEL]}, roles={GUILD: [ARTISTS]}
    )
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def harness(bot_database: str, simulator: Simulator, sim_url: str, standin: DiscordStandin) -> AsyncIterator[Any]:
    from tests.harness import Harness

    harness = Harness(bot_database, simulator, sim_url, standin)
    await harness.start()
    yield harness
    await harness.stop()
