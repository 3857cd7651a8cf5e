"""Members' own defaults for /imagine, per server: the size and count used where they leave them out.

Discord-free: /preferences and /imagine call this. A default the operator's sizes no longer offer is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.clock import Clock
from bot.models import MemberPreferences
from bot.prompts import check_count, check_size
from bot.storage import Storage

DEFAULT_SIZE = "square"
DEFAULT_COUNT = 1


class Preferences:
    def __init__(self, storage: Storage, clock: Clock, sizes: Mapping[str, str]) -> None:
        self._storage = storage
        self._clock = clock
        self._sizes = sizes

    async def of(self, guild_id: int, member_id: int) -> MemberPreferences:
        async with self._storage.reading() as tx:
            stored = await tx.preferences.get(guild_id, member_id)
        return stored if stored.size is None or stored.size in self._sizes else MemberPreferences(count=stored.count)

    async def set(self, guild_id: int, member_id: int, *, size: str | None, count: int | None) -> MemberPreferences:
        """Change the defaults given, keep the others; the member's defaults now."""
        if size is not None:
            check_size(size, self._sizes)
        if count is not None:
            check_count(count)
        async with self._storage.transaction() as tx:
            stored = await tx.preferences.get(guild_id, member_id)
            changed = MemberPreferences(
                size=stored.size if size is None else size, count=stored.count if count is None else count
            )
            await tx.preferences.put(guild_id, member_id, changed, self._clock())
        return changed

    async def reset(self, guild_id: int, member_id: int) -> bool:
        """True if the member had defaults to clear."""
        async with self._storage.transaction() as tx:
            return await tx.preferences.clear(guild_id, member_id)

    async def fill(self, guild_id: int, member_id: int, size: str | None, count: int | None) -> tuple[str, int]:
        """The size and count of an /imagine: what the member chose, else their default, else the bot's."""
        if size is not None and count is not None:
            return size, count
        defaults = await self.of(guild_id, member_id)
        return (
            size if size is not None else defaults.size or DEFAULT_SIZE,
            count if count is not None else defaults.count or DEFAULT_COUNT,
        )
