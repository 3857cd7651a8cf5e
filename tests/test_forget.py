"""/forget: a member's prompts and name erased after a confirmation, every money total unchanged."""

from __future__ import annotations

import csv
import io

from bot.models import ReportState
from bot.reports import spend_csv
from tests.discord_standin import MANAGE_GUILD, MEMBER_PERMISSIONS, MODERATE_MEMBERS
from tests.harness import ALICE, BOB, GUILD, MOD, Harness
from tests.test_moderation import cards, field, set_mod_channel

MODERATOR = MEMBER_PERMISSIONS | MODERATE_MEMBERS
ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD


async def totals(harness: Harness) -> tuple[object, ...]:
    """Every total /forget must leave alone: the member's day, the server's, the report and its CSV's amounts."""
    report = await harness.ledger.report(GUILD)
    amounts = [
        (r["date"], r["member_id"], r["images"], r["spent_usd"])
        for r in csv.DictReader(io.StringIO(spend_csv(report).decode()))
    ]
    return (
        await harness.ledger.usage(GUILD, ALICE),
        await harness.ledger.guild_usage(GUILD),
        report.rows,
        report.total_spent,
        amounts,
    )


async def prompts_on_record(harness: Harness) -> list[str | None]:
    async with harness.storage.reading() as tx:
        jobs = [job for job, _ in await tx.jobs.recent_for_member(GUILD, ALICE, 25)]
        reports = await tx.moderation.reports(GUILD, member_id=ALICE)
    return [job.request.prompt for job in jobs] + [report.prompt for report in reports]


async def test_forget_erases_prompts_and_name_after_the_members_own_press_and_keeps_every_total(
    harness: Harness,
) -> None:
    await set_mod_channel(harness)
    await harness.reply(await harness.imagine("a lighthouse"))
    failed = await harness.imagine("something forbidden")
    await harness.final((await harness.job_of(failed)).id)
    (card,) = await cards(harness)
    before = await totals(harness)
    assert await prompts_on_record(harness) == ["something forbidden", "a lighthouse", "something forbidden"]

    question = await harness.answer(await harness.slash("forget"))
    assert question.content.startswith("Erase the prompts of your images and your name from this server's records?")
    (confirm,) = question.custom_ids()
    assert confirm == f"forget:confirm:{ALICE}"

    stranger = await harness.answer(await harness.standin.click(question.id, confirm, user=BOB))
    assert stranger.content == "Only the member who asked to be forgotten can confirm it."
    assert await prompts_on_record(harness) == ["something forbidden", "a lighthouse", "something forbidden"]

    await harness.stop()
    await harness.start()
    press = await harness.standin.click(question.id, confirm, user=ALICE)
    await harness.standin.wait_for(lambda: press.response_type == 7)
    assert question.content == (
        "Erased: the prompts of 2 image jobs and 0 decided reports, and 1 saved name. "
        "Kept: 2 spend records (amounts only: today's budget and the server's totals count them), 0 blocks, "
        "and 1 open report whose prompt goes once a moderator decides. "
        "Images already posted stay where they are; delete them with their Delete button."
    )
    assert question.custom_ids() == []
    assert await prompts_on_record(harness) == ["", "", "something forbidden"]
    assert await totals(harness) == before
    assert (await harness.ledger.report(GUILD)).names == {}

    history = await harness.answer(await harness.slash("history"))
    assert history.embeds[0]["description"].count("*(prompt erased at the member's request)*") == 2

    dismiss = next(c for c in card.custom_ids() if ":dismiss:" in c)
    decided = await harness.standin.click(card.id, dismiss, user=MOD, permissions=MODERATOR)
    await harness.standin.wait_for(lambda: decided.response_type == 7)
    assert field(card, "Prompt") == "(deleted at the member's request)"
    async with harness.storage.reading() as tx:
        (report,) = await tx.moderation.reports(GUILD)
    assert (report.state, report.prompt) == (ReportState.DISMISSED, None)
    assert await totals(harness) == before

    # Afterwards the member generates as before, and the new prompt is kept.
    await harness.reply(await harness.imagine("a new lighthouse"))
    assert (await prompts_on_record(harness))[0] == "a new lighthouse"
