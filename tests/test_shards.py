"""Shard slices: two bot processes (`python -m bot`) on one database, each running half of the shards.

Each process logs in only its own shards, at Discord's pace for the whole deployment (one IDENTIFY per
5 s in the bucket, whichever process sends it), the slash commands are registered once, and each server's
commands reach the process that runs its shard and are answered there.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.bot import IDENTIFY_GAP_SECONDS
from bot.money import Money
from bot.simulator import BASE_PATH, Simulator, SimulatorSettings
from tests.conftest import Serve
from tests.discord_standin import DiscordStandin, Interaction
from tests.harness import CHANNEL, DISCORD_TOKEN, GUILD
from tests.process import BotProcess, money_on_record

MEMBER = 10_000_000_000_000_100
SHARD_COUNT = 2
# A server on each shard: Discord puts a server on shard (id >> 22) % count.
GUILDS = {
    shard: next(g for g in itertools.count(GUILD, 1 << 22) if (g >> 22) % SHARD_COUNT == shard)
    for shard in range(SHARD_COUNT)
}
CHANNELS = {shard: CHANNEL + shard for shard in range(SHARD_COUNT)}


def has_result(standin: DiscordStandin, interaction: Interaction) -> bool:
    reply = standin.original(interaction)
    return reply is not None and bool(reply.files)


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILDS[s]: [CHANNELS[s]] for s in GUILDS}, shards=1)
    await standin.start()
    yield standin
    await standin.close()


async def test_two_processes_each_run_their_shards_log_in_at_discords_pace_and_answer_their_servers(
    tmp_path: Path, bot_database: str, serve: Serve, standin: DiscordStandin
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.2))
    sim_url = await serve(simulator.app) + BASE_PATH
    (tmp_path / "b").mkdir()
    bots = [
        BotProcess(tmp_path, standin, sim_url, bot_database, SHARD_COUNT=str(SHARD_COUNT), SHARD_IDS="0"),
        BotProcess(tmp_path / "b", standin, sim_url, bot_database, SHARD_COUNT=str(SHARD_COUNT), SHARD_IDS="1"),
    ]
    await asyncio.gather(*(bot.start() for bot in bots))  # at the same moment, on an empty database
    await standin.wait_for(lambda: len(standin.logins) == SHARD_COUNT, 30)

    (first, shard_a, count_a), (second, shard_b, count_b) = standin.logins
    assert {shard_a, shard_b} == {0, 1} and count_a == count_b == SHARD_COUNT
    assert second - first >= IDENTIFY_GAP_SECONDS - 0.1  # one bucket (max_concurrency 1): five seconds apart
    assert standin.command_puts == 1  # the commands were registered by one process only

    for shard in (0, 1):
        options = [{"name": "prompt", "type": 3, "value": f"a fox on shard {shard}"}]
        asked = await standin.command("imagine", options, guild=GUILDS[shard], channel=CHANNELS[shard], user=MEMBER)
        await standin.wait_for(functools.partial(has_result, standin, asked), 30)
    for shard, bot in enumerate(bots):
        assert f"shards {shard} of {SHARD_COUNT}" in bot.log.read_text()
    assert sum(len(m.files) for m in standin.messages.values()) == 2
    assert await money_on_record(bot_database) == (Money(16_000), Money(0))
    for bot in bots:
        assert await bot.stop() == 0
