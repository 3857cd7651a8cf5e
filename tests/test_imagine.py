"""/imagine end to end: the real discord.py bot, the Discord stand-in, the Pixazo simulator, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.simulator import Endpoint, Simulator, SimulatorSettings
from tests.conftest import TEST_KEY, Serve
from tests.discord_standin import DiscordStandin
from tests.harness import ALICE, CHANNEL, GUILD, OTHER_CHANNEL, Harness
from tests.harness import DISCORD_TOKEN


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.3, queue_depth=3)


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: [CHANNEL, OTHER_CHANNEL]})
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def harness(tmp_path: Path, simulator: Simulator, sim_url: str, standin: DiscordStandin
                  ) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path, simulator, sim_url, standin)
    await harness.start()
    yield harness
    await harness.stop()


async def test_happy_path_defers_first_shows_the_queue_and_attaches_the_exact_png(harness: Harness) -> None:
    interaction = await harness.imagine("a lighthouse at dusk")
    message = await harness.reply(interaction)
    job = await harness.final((await harness.job_of(interaction)).id)
    assert job.request_id is not None
    (image,) = message.files
    assert image.data == harness.simulator.images_of(job.request_id)[0]
    usage = await harness.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved) == (8_000, 0)
