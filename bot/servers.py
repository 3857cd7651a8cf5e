"""What server admins change: budgets and overrides, where /imagine works, the time zone, pausing, the
prompt filter and the moderator channel. Discord-free: the admin cogs call this and nothing else.

Every rule an admin can trip over lives here, as a `BotError` whose text tells them what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import available_timezones

from bot.clock import Clock
from bot.errors import InvalidRequestError
from bot.models import BudgetOverride, GuildSettings, OverrideKind
from bot.money import Money
from bot.storage import Storage

MAX_TERM_CHARS = 100
_ZONES = sorted(available_timezones())


@dataclass(frozen=True, slots=True)
class ServerOverview:
    settings: GuildSettings
    overrides: list[BudgetOverride]
    channels: list[int]  # where /imagine may be used; empty means everywhere


_CARD_PROBLEM = "card_problem:{}"  # app_state key: why a server's last review card could not be posted


class Servers:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def settings(self, guild_id: int) -> GuildSettings:
        async with self._storage.reading() as tx:
            return await tx.guilds.settings(guild_id)

    async def overview(self, guild_id: int) -> ServerOverview:
        async with self._storage.reading() as tx:
            return ServerOverview(
                await tx.guilds.settings(guild_id),
                await tx.guilds.overrides(guild_id),
                await tx.guilds.allowed_channels(guild_id),
            )

    # --- budgets ----------------------------------------------------------------------------------

    async def set_member_default(self, guild_id: int, amount: Money) -> None:
        await self._update(guild_id, member_daily_limit=amount)

    async def set_server_budget(self, guild_id: int, amount: Money | None) -> None:
        """The most the whole server may spend a day; None removes the server's own."""
        await self._update(guild_id, guild_daily_limit=amount)

    async def set_override(self, guild_id: int, kind: OverrideKind, target_id: int, amount: Money) -> None:
        if kind is OverrideKind.ROLE and target_id == guild_id:  # @everyone's id is the server's own
            raise InvalidRequestError(
                "@everyone is not a role for budgets: every member has it. "
                "Use /budget member-default to set everyone's budget."
            )
        async with self._storage.transaction() as tx:
            await tx.guilds.set_override(guild_id, kind, target_id, amount)

    async def clear_override(self, guild_id: int, kind: OverrideKind, target_id: int) -> bool:
        """True if there was one to clear."""
        async with self._storage.transaction() as tx:
            return await tx.guilds.clear_override(guild_id, kind, target_id)

    # --- how /imagine works here ------------------------------------------------------------------

    async def set_timezone(self, guild_id: int, name: str) -> str:
        """Set the zone whose midnight starts a budget day; returns its proper name (any case is accepted)."""
        match = next((zone for zone in _ZONES if zone.casefold() == name.strip().casefold()), None)
        if match is None:
            raise InvalidRequestError(f"“{name[:60]}” is not a time zone; pick one from the list, like Europe/Berlin.")
        await self._update(guild_id, timezone=match)
        return match

    @staticmethod
    def timezones_like(typed: str, limit: int = 25) -> list[str]:
        """Time zones to offer as an admin types: UTC first while nothing is typed."""
        needle = typed.strip().casefold().replace(" ", "_")
        found = [zone for zone in _ZONES if needle in zone.casefold()] if needle else ["UTC", *_ZONES]
        return found[:limit]

    async def set_paused(self, guild_id: int, paused: bool) -> None:
        await self._update(guild_id, paused=paused)

    async def set_safety_charged(self, guild_id: int, charged: bool) -> None:
        await self._update(guild_id, safety_charged=charged)

    async def set_mod_channel(self, guild_id: int, channel_id: int) -> None:
        await self._update(guild_id, mod_channel_id=channel_id)
        await self.note_card_problem(guild_id, None)  # a new channel starts with a clean slate

    async def note_card_problem(self, guild_id: int, problem: str | None) -> None:
        """Why the last review card could not be posted, for /budget show; None once a card was posted."""
        async with self._storage.transaction() as tx:
            key = _CARD_PROBLEM.format(guild_id)
            if (await tx.get_state(key) or None) != problem:
                await tx.set_state(key, problem or "")

    async def card_problem(self, guild_id: int) -> str | None:
        async with self._storage.reading() as tx:
            return await tx.get_state(_CARD_PROBLEM.format(guild_id)) or None

    async def allow_channel(self, guild_id: int, channel_id: int) -> tuple[bool, list[int]]:
        """Allow /imagine in a channel: (whether it was new, every channel allowed now)."""
        async with self._storage.transaction() as tx:
            added = await tx.guilds.allow_channel(guild_id, channel_id)
            return added, await tx.guilds.allowed_channels(guild_id)

    async def disallow_channel(self, guild_id: int, channel_id: int) -> tuple[bool, list[int]]:
        """Stop allowing /imagine in a channel: (whether it was on the list, every channel allowed now)."""
        async with self._storage.transaction() as tx:
            removed = await tx.guilds.disallow_channel(guild_id, channel_id)
            return removed, await tx.guilds.allowed_channels(guild_id)

    async def allowed_channels(self, guild_id: int) -> list[int]:
        async with self._storage.reading() as tx:
            return await tx.guilds.allowed_channels(guild_id)

    # --- the prompt filter ------------------------------------------------------------------------

    async def add_blocked_term(self, guild_id: int, term: str) -> tuple[bool, str]:
        """Refuse prompts with a word or phrase: (whether it was new, the term as it is stored)."""
        cleaned = _clean_term(term)
        if not cleaned or len(cleaned) > MAX_TERM_CHARS:
            raise InvalidRequestError(f"A blocked term is 1 to {MAX_TERM_CHARS} characters.")
        async with self._storage.transaction() as tx:
            return await tx.guilds.add_blocked_term(guild_id, cleaned), cleaned

    async def remove_blocked_term(self, guild_id: int, term: str) -> bool:
        async with self._storage.transaction() as tx:
            return await tx.guilds.remove_blocked_term(guild_id, _clean_term(term))

    async def blocked_terms(self, guild_id: int) -> list[str]:
        async with self._storage.reading() as tx:
            return await tx.guilds.blocked_terms(guild_id)

    async def _update(self, guild_id: int, **changes: object) -> None:
        async with self._storage.transaction() as tx:
            await tx.guilds.update_settings(guild_id, self._clock(), **changes)


def _clean_term(term: str) -> str:
    return " ".join(term.split()).casefold()
