"""The whole bot in one process: the real ImagineBot against the Discord stand-in and the Pixazo simulator."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import aiohttp

from bot.bot import ImagineBot
from bot.config import Config
from bot.ledger import BudgetDefaults, Ledger
from bot.models import Job, JobState, Secret
from bot.moderation import Moderation
from bot.pixazo import PixazoClient
from bot.services import Services
from bot.simulator import Simulator
from bot.storage import Storage
from tests.conftest import FAST_RETRY, TEST_KEY
from tests.discord_standin import MEMBER_PERMISSIONS, DiscordStandin, Interaction, StoredMessage

DISCORD_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.standin.discord-token-secret"
GUILD, CHANNEL, OTHER_CHANNEL = 500_000_000_000_000_001, 600_000_000_000_000_001, 600_000_000_000_000_002
ALICE, BOB, MOD = 10_000_000_000_000_001, 10_000_000_000_000_002, 10_000_000_000_000_003


class Harness:
    def __init__(
        self, tmp_path: Path, simulator: Simulator, sim_url: str, standin: DiscordStandin, **settings: Any
    ) -> None:
        self.simulator = simulator
        self.standin = standin
        self.config = dataclasses.replace(
            Config(discord_token=Secret(DISCORD_TOKEN), pixazo_api_key=Secret(TEST_KEY)),
            pixazo_base_url=sim_url,
            discord_api_base_url=standin.api_base,
            database_url=f"sqlite:///{tmp_path}/imagine.db",
            poll_min_seconds=0.05,
            poll_max_seconds=0.2,
            **settings,
        )
        self.http: aiohttp.ClientSession
        self.storage: Storage
        self.ledger: Ledger
        self.bot: ImagineBot
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        self.storage = await Storage.open(self.config.database_path)
        config = self.config
        self.ledger = Ledger(
            self.storage,
            BudgetDefaults(
                config.price_per_image_usd,
                config.default_user_daily_limit_usd,
                config.default_guild_daily_limit_usd,
                config.global_daily_budget_usd,
            ),
        )
        pixazo = PixazoClient(
            self.http, api_key=config.pixazo_api_key, base_url=config.pixazo_base_url, retry=FAST_RETRY
        )
        self.moderation = Moderation(self.storage, self.ledger.now, auto_block_after=config.auto_block_after)
        services = Services(self.storage, self.ledger, pixazo, self.moderation)
        self.bot = ImagineBot(config=config, services=services, guild_ready_timeout=0.05)
        self.standin._ready.clear()
        self._task = asyncio.create_task(self.bot.start(config.discord_token.reveal()))
        ready = asyncio.create_task(self.standin.wait_ready(15))
        done, _ = await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()  # the bot stopped: show why
        await self.bot.wait_until_ready()

    async def stop(self) -> None:
        await self.bot.close()
        if self._task is not None:
            await self._task
        await self.storage.close()
        await self.http.close()

    async def imagine(
        self, prompt: str, *, user: int = ALICE, channel: int = CHANNEL, roles: list[int] | None = None, **options: Any
    ) -> Interaction:
        values = [{"name": "prompt", "type": 3, "value": prompt}]
        types = {"size": 3, "seed": 4, "count": 4}
        values += [{"name": name, "type": types[name], "value": value} for name, value in options.items()]
        return await self.standin.command("imagine", values, guild=GUILD, channel=channel, user=user, roles=roles)

    async def job_of(self, interaction: Interaction, timeout: float = 10) -> Job:
        """The job an interaction started, once it exists."""
        async with asyncio.timeout(timeout):
            while True:
                async with self.storage.transaction() as tx:
                    jobs = [
                        j
                        for j in await tx.jobs.by_state(list(JobState))
                        if j.delivery.interaction_token == interaction.token
                        or j.delivery.message_id == interaction.original_id
                    ]
                if jobs:
                    return jobs[0]
                await asyncio.sleep(0.02)

    async def final(self, job_id: int, timeout: float = 15) -> Job:
        async with asyncio.timeout(timeout):
            while True:
                async with self.storage.transaction() as tx:
                    job = await tx.jobs.get(job_id)
                assert job is not None
                if job.state.final and job.notified:
                    return job
                await asyncio.sleep(0.02)

    async def reply(self, interaction: Interaction, predicate: Any = None, timeout: float = 15) -> StoredMessage:
        """The interaction's public reply once `predicate` holds for it (by default: it has a result)."""
        check = predicate or (lambda m: bool(m.files))
        await self.standin.wait_for(lambda: (m := self.standin.original(interaction)) is not None and check(m), timeout)
        message = self.standin.original(interaction)
        assert message is not None
        return message

    def ephemeral_followups(self, interaction: Interaction) -> list[StoredMessage]:
        return [self.standin.messages[i] for i in interaction.followups if self.standin.messages[i].ephemeral]

    def private_texts(self, interaction: Interaction) -> list[str]:
        """What only the member saw: an ephemeral reply and ephemeral follow-ups."""
        ids = [interaction.original_id, *interaction.followups]
        shown = [self.standin.messages[i] for i in ids if i is not None and i in self.standin.messages]
        return [m.content for m in shown if m.ephemeral and not m.deleted and m.content]


__all__ = ["ALICE", "BOB", "CHANNEL", "GUILD", "MEMBER_PERMISSIONS", "MOD", "OTHER_CHANNEL", "Harness"]
