"""/preferences: a member's own defaults for /imagine's size and count, shown, set and reset privately."""

from __future__ import annotations

from typing import Any

from tests.databases import dump_rows
from tests.harness import ALICE, BOB, GUILD, Harness


async def preferences(harness: Harness, user: int = ALICE, **values: Any) -> str:
    interaction = await harness.slash("preferences", user=user, **values)
    answer = await harness.answer(interaction)
    assert interaction.response_type == 4 and answer.ephemeral  # answered at once, privately
    return answer.content


async def test_imagine_uses_a_members_defaults_for_what_they_leave_out(harness: Harness) -> None:
    assert await preferences(harness) == "You have no defaults here; /imagine makes one square image unless you choose."
    assert await preferences(harness, size="portrait", count=2) == (
        "Saved: your defaults here are size portrait and 2 images; /imagine uses them for what you leave out."
    )
    assert await preferences(harness, count=3) == (
        "Saved: your defaults here are size portrait and 3 images; /imagine uses them for what you leave out."
    )
    assert (await preferences(harness)).startswith("Your defaults here are size portrait and 3 images")
    await harness.stop()
    await harness.start()  # kept in the database, not in the process
    mine = await harness.final((await harness.job_of(await harness.imagine("a lighthouse"))).id)
    assert (mine.request.size, mine.request.count) == ("portrait", 3)
    chosen = await harness.final((await harness.job_of(await harness.imagine("a fox", size="landscape"))).id)
    assert (chosen.request.size, chosen.request.count) == ("landscape", 3)  # what the member chose wins
    bobs = await harness.final((await harness.job_of(await harness.imagine("a boat", user=BOB))).id)
    assert (bobs.request.size, bobs.request.count) == ("square", 1)  # defaults are the member's own


async def test_reset_clears_the_defaults(harness: Harness) -> None:
    await preferences(harness, size="portrait")
    assert await preferences(harness, reset=True) == (
        "Your defaults here are cleared; /imagine makes one square image unless you choose."
    )
    assert await preferences(harness, reset=True) == (
        "You had no defaults here; /imagine makes one square image unless you choose."
    )
    job = await harness.final((await harness.job_of(await harness.imagine("a lighthouse"))).id)
    assert (job.request.size, job.request.count) == ("square", 1)


async def test_values_discord_would_not_offer_are_refused_by_the_bot_and_nothing_is_stored(harness: Harness) -> None:
    await preferences(harness, count=2)
    before = await dump_rows(harness.config.database_url)
    assert (await preferences(harness, size="enormous")).startswith("“enormous” is not a size; choose one of square")
    assert await preferences(harness, count=9) == "You can ask for 1 to 4 images at a time."
    assert await preferences(harness, count=0) == "You can ask for 1 to 4 images at a time."
    assert await preferences(harness, size="portrait", reset=True) == "Choose reset or new defaults, not both at once."
    assert await dump_rows(harness.config.database_url) == before
    async with harness.storage.transaction() as tx:
        assert (await tx.preferences.get(GUILD, ALICE)).count == 2
