"""/history: a member's last jobs in pages, through the real discord.py."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.history import History
from bot.ledger import BudgetDefaults, Ledger
from bot.models import Delivery, JobRequest, JobState
from bot.money import Money
from bot.storage import open_storage
from tests.discord_standin import MANAGE_GUILD, MEMBER_PERMISSIONS, MODERATE_MEMBERS, StoredMessage
from tests.harness import ALICE, BOB, CHANNEL, GUILD, MOD, Harness, MemberRef

MODERATOR = MEMBER_PERMISSIONS | MODERATE_MEMBERS
ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD


def entries(message: StoredMessage) -> list[str]:
    return [e for e in message.embeds[0]["description"].split("\n\n") if not e.startswith("Member: ")]


async def test_history_pages_through_the_last_jobs_newest_first_and_turns_pages_after_a_restart(
    harness: Harness,
) -> None:
    await harness.answer(await harness.slash("budget member", permissions=ADMIN, member=MemberRef(ALICE), amount="1"))
    results = [await harness.reply(await harness.imagine(f"lighthouse number {n}")) for n in range(10)]
    newest = await harness.reply(await harness.imagine("a **bold** cat @everyone", size="wide", count=2))

    answer = await harness.answer(await harness.slash("history"))
    assert answer.embeds[0]["title"] == "Your last images"
    assert answer.embeds[0]["footer"]["text"] == "Page 1 of 2 · the last 11 jobs, newest first"
    shown = entries(answer)
    assert len(shown) == 10
    first_line, prompt = shown[0].split("\n")
    assert first_line.startswith("<t:") and " · wide · 2 images · $0.016 · delivered · " in first_line
    assert first_line.endswith(f"[result](https://discord.com/channels/{GUILD}/{CHANNEL}/{newest.id})")
    assert prompt == "a \\*\\*bold\\*\\* cat @\u200beveryone"  # escaped: no markdown, no mention
    assert shown[1].endswith("lighthouse number 9") and "$0.008 · delivered" in shown[1]
    previous, following = answer.custom_ids()
    assert (previous, following) == (f"history:{GUILD}:{ALICE}:0", f"history:{GUILD}:{ALICE}:2")
    assert [b.get("disabled", False) for b in answer.components[0]["components"]] == [True, False]

    await harness.stop()
    await harness.start()
    stranger = await harness.answer(await harness.standin.click(answer.id, following, user=BOB))
    assert stranger.content == "Only the member whose history this is, or a moderator, can turn its pages."
    assert answer.embeds[0]["footer"]["text"].startswith("Page 1 of 2")

    press = await harness.standin.click(answer.id, following, user=ALICE)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    assert answer.embeds[0]["footer"]["text"].startswith("Page 2 of 2")
    (oldest,) = entries(answer)
    assert oldest.endswith("lighthouse number 0") and f"/{results[0].id})" in oldest
    assert [b.get("disabled", False) for b in answer.components[0]["components"]] == [False, True]
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(96_000)  # history changed no money


async def test_someone_elses_history_is_for_moderators_and_an_empty_one_says_so(harness: Harness) -> None:
    empty = await harness.answer(await harness.slash("history", user=BOB))
    assert empty.content == "You have not generated any images in this server yet."
    none_yet = await harness.answer(
        await harness.slash("history", user=MOD, permissions=MODERATOR, member=MemberRef(BOB))
    )
    assert none_yet.content == "This member has not generated any images in this server yet."

    await harness.reply(await harness.imagine("a lighthouse"))
    nosy = await harness.answer(await harness.slash("history", user=BOB, member=MemberRef(ALICE)))
    assert nosy.content == "Only moderators can see someone else's history."
    assert nosy.embeds == []

    seen = await harness.answer(
        await harness.slash("history", user=MOD, permissions=MODERATOR, member=MemberRef(ALICE))
    )
    assert seen.embeds[0]["title"] == "A member's last images"
    assert seen.embeds[0]["description"].startswith(f"Member: <@{ALICE}>\n\n")
    assert entries(seen)[0].endswith("a lighthouse")
    assert seen.components == []  # one page: no buttons


async def test_history_keeps_the_last_25_jobs_and_shows_what_each_was_charged(database_url: str) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    defaults = BudgetDefaults(price_per_image=Money(8_000), member_daily_limit=Money(1_000_000))
    async with open_storage(database_url) as storage:
        ledger = Ledger(storage, defaults, lambda: now)
        for n in range(27):
            reservation = await ledger.reserve(guild_id=GUILD, member_id=ALICE, role_ids=[], images=1)
            async with storage.transaction() as tx:
                request = JobRequest(GUILD, CHANNEL, ALICE, f"prompt {n}", "square", "square_1_1")
                job = await tx.jobs.insert(request, reservation=reservation, delivery=Delivery(), now=now)
                if n % 3:  # every third job is left running: it shows what is set aside, not a charge
                    await tx.jobs.update(job.id, now, state=JobState.FAILED if n == 26 else JobState.DELIVERED)
            if n % 3:
                await (ledger.release if n == 26 else ledger.commit)(reservation.id)
        history = History(storage)
        first = await history.page(GUILD, ALICE, 1, own=True)
        last = await history.page(GUILD, ALICE, 99, own=True)  # past the end: the last page
    assert (first.total, first.pages, len(first.entries), last.page, len(last.entries)) == (25, 3, 10, 3, 5)
    assert [e.prompt for e in first.entries[:3]] == ["prompt 26", "prompt 25", "prompt 24"]
    failed, delivered, running = first.entries[:3]
    assert (failed.state, failed.cost, failed.settled) == (JobState.FAILED, Money(0), True)
    assert (delivered.state, delivered.cost, delivered.settled) == (JobState.DELIVERED, Money(8_000), True)
    assert (running.state, running.cost, running.settled) == (JobState.RESERVED, Money(8_000), False)
    assert last.entries[-1].prompt == "prompt 2"
