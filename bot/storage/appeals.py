"""Appeals: a blocked member's request for a review of their block, one per block."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.models import Appeal, AppealState
from bot.storage.connection import Connection
from bot.storage.convert import fetch_one, from_db, from_db_required, to_db

_COLUMNS = (
    "block_id, guild_id, member_id, state, moderator_id, decided_at, card_channel_id, card_message_id, created_at"
)


class AppealsTable:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, block_id: int, guild_id: int, member_id: int, now: datetime) -> Appeal | None:
        """Record an appeal against a block; None when that block has one already."""
        row = await fetch_one(
            self._conn,
            "INSERT INTO appeals (block_id, guild_id, member_id, state, created_at) VALUES (?, ?, ?, 'open', ?) "
            f"ON CONFLICT (block_id) DO NOTHING RETURNING {_COLUMNS}",
            (block_id, guild_id, member_id, to_db(now)),
        )
        return None if row is None else _appeal(row)

    async def get(self, block_id: int) -> Appeal | None:
        row = await fetch_one(self._conn, f"SELECT {_COLUMNS} FROM appeals WHERE block_id = ?", (block_id,))
        return None if row is None else _appeal(row)

    async def decide(self, block_id: int, state: AppealState, moderator_id: int, now: datetime) -> Appeal | None:
        """Record a moderator's decision on an open appeal; None when it was decided already."""
        row = await fetch_one(
            self._conn,
            "UPDATE appeals SET state = ?, moderator_id = ?, decided_at = ? WHERE block_id = ? AND state = 'open' "
            f"RETURNING {_COLUMNS}",
            (state.value, moderator_id, to_db(now), block_id),
        )
        return None if row is None else _appeal(row)

    async def set_card(self, block_id: int, channel_id: int, message_id: int) -> None:
        await self._conn.execute(
            "UPDATE appeals SET card_channel_id = ?, card_message_id = ? WHERE block_id = ?",
            (channel_id, message_id, block_id),
        )


def _appeal(row: Any) -> Appeal:
    return Appeal(
        block_id=row["block_id"],
        guild_id=row["guild_id"],
        member_id=row["member_id"],
        state=AppealState(row["state"]),
        created_at=from_db_required(row["created_at"]),
        moderator_id=row["moderator_id"],
        decided_at=from_db(row["decided_at"]),
        card_channel_id=row["card_channel_id"],
        card_message_id=row["card_message_id"],
    )
