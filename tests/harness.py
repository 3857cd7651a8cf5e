"""The whole bot in one process: the real ImagineBot against the Discord stand-in and the Pixazo simulator."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.bot import ImagineBot
from bot.config import Config, Secret
from bot.ledger import Ledger
from bot.models import Job, JobState
from bot.moderation import Moderation
from bot.services import open_services
from bot.simulator import Simulator
from bot.storage import Storage
from tests.conftest import FAST_RETRY, TEST_KEY
from tests.discord_standin import LOADING, MEMBER_PERMISSIONS, DiscordStandin, Interaction, StoredMessage

DISCORD_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.standin.discord-token-secret"
GUILD, CHANNEL, OTHER_CHANNEL = 500_000_000_000_000_001, 600_000_000_000_000_001, 600_000_000_000_000_002
MOD_CHANNEL = 600_000_000_000_000_003
ARTISTS = 700_000_000_000_000_001  # a role
ALICE, BOB, MOD = 10_000_000_000_000_001, 10_000_000_000_000_002, 10_000_000_000_000_003


@dataclass(frozen=True)
class MemberRef:
    id: int
    roles: list[int] | None = None


@dataclass(frozen=True)
class RoleRef:
    id: int


@dataclass(frozen=True)
class ChannelRef:
    id: int


class Clock:
    """The real time, plus however far a test has moved it on."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class Harness:
    def __init__(
        self, database_url: str, simulator: Simulator, sim_url: str, standin: DiscordStandin, **settings: Any
    ) -> None:
        self.clock = Clock()
        self.simulator = simulator
        self.standin = standin
        self.config = dataclasses.replace(
            Config(discord_token=Secret(DISCORD_TOKEN), pixazo_api_key=Secret(TEST_KEY)),
            pixazo_base_url=sim_url,
            discord_api_base_url=standin.api_base,
            database_url=database_url,
            poll_min_seconds=0.05,
            poll_max_seconds=0.2,
            **settings,
        )
        self._resources: contextlib.AsyncExitStack
        self.storage: Storage
        self.ledger: Ledger
        self.moderation: Moderation
        self.bot: ImagineBot
        self._task: asyncio.Task[None] | None = None

    @property
    def database_path(self) -> Path:
        path = self.config.database_path
        assert path is not None, "this test reads the SQLite file itself"
        return path

    async def start(self) -> None:
        self._resources = contextlib.AsyncExitStack()
        services = await self._resources.enter_async_context(
            open_services(self.config, clock=self.clock, retry=FAST_RETRY)
        )
        self.storage = services.storage
        self.ledger = services.ledger
        self.moderation = services.moderation
        self.bot = ImagineBot(config=self.config, services=services, guild_ready_timeout=0.05)
        self.standin._ready.clear()
        self._task = asyncio.create_task(self.bot.start(self.config.discord_token.reveal()))
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
        await self._resources.aclose()

    async def imagine(
        self, prompt: str, *, user: int = ALICE, channel: int = CHANNEL, roles: list[int] | None = None, **options: Any
    ) -> Interaction:
        values = [{"name": "prompt", "type": 3, "value": prompt}]
        types = {"size": 3, "seed": 4, "count": 4, "style": 3}
        values += [{"name": name, "type": types[name], "value": value} for name, value in options.items()]
        return await self.standin.command("imagine", values, guild=GUILD, channel=channel, user=user, roles=roles)

    async def slash(
        self,
        path: str,
        *,
        user: int = ALICE,
        permissions: int = MEMBER_PERMISSIONS,
        roles: list[int] | None = None,
        in_channel: int = CHANNEL,
        **values: Any,
    ) -> Interaction:
        """Run a slash command by its full name (``"settings channels add"``) with typed option values."""
        name, *subcommands = path.split()
        options: list[dict[str, Any]] = []
        resolved: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            option_name = key.replace("_", "-") if key not in ("days", "page") else key
            options.append(self._option(option_name, value, resolved))
        for depth, sub in enumerate(reversed(subcommands)):
            options = [{"name": sub, "type": 1 if depth == 0 else 2, "options": options}]
        return await self.standin.command(
            name,
            options,
            guild=GUILD,
            channel=in_channel,
            user=user,
            roles=roles,
            permissions=permissions,
            resolved=resolved or None,
        )

    def _option(self, name: str, value: Any, resolved: dict[str, dict[str, Any]]) -> dict[str, Any]:
        if isinstance(value, MemberRef):
            resolved.setdefault("users", {})[str(value.id)] = self.standin.user(value.id)
            member = {k: v for k, v in self.standin.member(value.id, value.roles).items() if k != "user"}
            resolved.setdefault("members", {})[str(value.id)] = member
            return {"name": name, "type": 6, "value": str(value.id)}
        if isinstance(value, RoleRef):
            resolved.setdefault("roles", {})[str(value.id)] = {
                "id": str(value.id),
                "name": f"role-{value.id}",
                "permissions": "0",
                "position": 1,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": True,
                "flags": 0,
            }
            return {"name": name, "type": 8, "value": str(value.id)}
        if isinstance(value, ChannelRef):
            resolved.setdefault("channels", {})[str(value.id)] = {
                "id": str(value.id),
                "type": 0,
                "name": f"channel-{value.id}",
                "permissions": str((1 << 40) - 1),
                "guild_id": str(GUILD),
            }
            return {"name": name, "type": 7, "value": str(value.id)}
        kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 10 if isinstance(value, float) else 3
        return {"name": name, "type": kind, "value": value}

    async def answer(self, interaction: Interaction, timeout: float = 10) -> StoredMessage:
        """The interaction's private answer: an ephemeral reply or follow-up with something in it."""

        def answered() -> bool:
            return bool(self._answers(interaction))

        await self.standin.wait_for(answered, timeout)
        return self._answers(interaction)[0]

    def _answers(self, interaction: Interaction) -> list[StoredMessage]:
        ids = [interaction.original_id, *interaction.followups]
        shown = [self.standin.messages[i] for i in ids if i is not None and i in self.standin.messages]
        return [m for m in shown if m.ephemeral and (m.content or m.embeds or m.files) and not m.flags & LOADING]

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
        """The interaction's public reply once `predicate` holds for it; by default, once it has its result
        and the job has ended (its charge is on record: the image is posted a moment before)."""
        check = predicate or (lambda m: bool(m.files))
        await self.standin.wait_for(lambda: (m := self.standin.original(interaction)) is not None and check(m), timeout)
        if predicate is None:
            await self.final((await self.job_of(interaction)).id, timeout)
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


__all__ = ["ALICE", "BOB", "CHANNEL", "GUILD", "MEMBER_PERMISSIONS", "MOD", "MOD_CHANNEL", "OTHER_CHANNEL", "Harness"]
