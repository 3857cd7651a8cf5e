"""Interactions acknowledged but not yet a job: held by the process that deferred them, so that if it stops
first, the next start answers them ("...restarted before your request started; nothing was charged")."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.models import PendingInteraction
from bot.storage.connection import NOW_MS, Connection
from bot.storage.convert import fetch_all, from_db_required, to_db
from bot.storage.lease import CLAIMABLE, Lease

_COLUMNS = "id, application_id, token, guild_id, channel_id, member_id, expires_at, created_at"


class InteractionsTable:
    def __init__(self, conn: Connection, lease: Lease) -> None:
        self._conn = conn
        self._lease = lease

    async def remember(self, pending: PendingInteraction) -> None:
        """Record an acknowledged interaction, held by this process until it becomes a job or is answered."""
        await self._conn.execute(
            f"INSERT INTO pending_interactions ({_COLUMNS}, lease_owner, lease_until) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW_MS} + ?) ON CONFLICT (id) DO NOTHING",
            (
                pending.id,
                pending.application_id,
                pending.token,
                pending.guild_id,
                pending.channel_id,
                pending.member_id,
                to_db(pending.expires_at),
                to_db(pending.created_at),
                self._lease.owner,
                self._lease.millis,
            ),
        )

    async def forget(self, interaction_id: int) -> None:
        await self._conn.execute("DELETE FROM pending_interactions WHERE id = ?", (interaction_id,))

    async def claim(self, gone: Sequence[str]) -> list[PendingInteraction]:
        """Take the acknowledged interactions that never got a job and that nobody holds: their process stopped."""
        sql = (
            f"UPDATE pending_interactions SET lease_owner = ?, lease_until = {NOW_MS} + ? WHERE {CLAIMABLE} "
            f"RETURNING {_COLUMNS}"
        )
        owner = self._lease.owner
        rows = await fetch_all(self._conn, sql, (owner, self._lease.millis, owner, json.dumps(list(gone))))
        pending = [
            PendingInteraction(
                id=row["id"],
                application_id=row["application_id"],
                token=row["token"],
                guild_id=row["guild_id"],
                channel_id=row["channel_id"],
                member_id=row["member_id"],
                expires_at=from_db_required(row["expires_at"]),
                created_at=from_db_required(row["created_at"]),
            )
            for row in rows
        ]
        return sorted(pending, key=lambda interaction: interaction.id)
