"""A process's hold on a row (a job, an acknowledged interaction): who holds it, and until when by the database's
clock."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.connection import IN_JSON_LIST, NOW_MS

# Held by nobody, or by another process whose lease ran out or that is proven gone (the JSON list bound here).
CLAIMABLE = (
    f"(lease_owner IS NULL OR (lease_owner <> ? AND (lease_until <= {NOW_MS} OR lease_owner IN ({IN_JSON_LIST}))))"
)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who this process is, and how long a lease it takes or renews."""

    owner: str
    seconds: float

    @property
    def millis(self) -> int:
        return round(self.seconds * 1000)
