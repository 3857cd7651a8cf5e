"""Rows written as a process that died would have left them: for tests that start from a crash's moment."""

from __future__ import annotations

from bot.models import JobState
from tests.databases import execute_raw

DEAD_WORKER = "elsewhere:1:dead"  # another machine's worker whose lease ran out long ago


async def leave_as_crashed(database_url: str, job_id: int, state: JobState, **columns: object) -> None:
    """Put a job in `state` (and the given columns), held by a worker that stopped without letting it go and
    before it told the member anything."""
    values = {"state": state.value, "notified": False, **columns, "lease_owner": DEAD_WORKER, "lease_until": 0}
    assignments = ", ".join(f"{name} = ?" for name in values)
    await execute_raw(database_url, f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id))  # noqa: S608


async def hold_again(database_url: str, job_id: int, owner: str) -> None:
    """Give a finished job back to a worker, as if it still worked on it: for tests of what it shows."""
    await execute_raw(
        database_url, "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?", (owner, 2**62, job_id)
    )
