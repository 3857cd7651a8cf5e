"""Styles: admins' named prompt templates, offered in /imagine, expanded before every check and kept on the job."""

from __future__ import annotations

from typing import Any

from bot.money import Money
from bot.simulator import Endpoint
from tests.databases import dump_rows
from tests.discord_standin import MANAGE_GUILD, MEMBER_PERMISSIONS, Interaction
from tests.harness import ALICE, BOB, CHANNEL, GUILD, Harness

ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD
WATERCOLOUR = "a soft watercolour painting of {prompt}, pastel colours"


async def add_style(harness: Harness, name: str, template: str) -> str:
    interaction = await harness.slash("settings styles add", permissions=ADMIN, name=name, template=template)
    return (await harness.answer(interaction)).content


async def refused(harness: Harness, interaction: Interaction) -> str:
    await harness.standin.wait_for(lambda: bool(harness.private_texts(interaction)))
    (text,) = harness.private_texts(interaction)
    return text


async def test_an_admin_adds_a_style_and_imagine_sends_the_expanded_prompt_and_shows_the_style(
    harness: Harness,
) -> None:
    added = await add_style(harness, "Watercolour", WATERCOLOUR)
    assert added.startswith("Style “Watercolour” added: a soft watercolour painting of {prompt}")
    listed = await harness.answer(await harness.slash("settings styles list", permissions=ADMIN))
    assert "Styles (1):" in listed.content and "**Watercolour**" in listed.content
    await harness.stop()
    await harness.start()  # kept in the database, not in the process
    interaction = await harness.imagine("a lighthouse", style="watercolour")  # names are found in any case
    message = await harness.reply(interaction)
    job = await harness.final((await harness.job_of(interaction)).id)
    expanded = "a soft watercolour painting of a lighthouse, pastel colours"
    assert (job.request.prompt, job.request.member_prompt, job.request.style) == (
        expanded,
        "a lighthouse",
        "Watercolour",
    )
    assert harness.simulator.jobs[job.request_id or ""].prompt == expanded
    fields = {field["name"]: field["value"] for field in message.embeds[0]["fields"]}
    assert fields["Style"] == "Watercolour"
    assert message.embeds[0]["description"] == "a lighthouse"
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(8_000)


async def test_imagine_offers_the_servers_styles_by_autocomplete(harness: Harness) -> None:
    await add_style(harness, "Watercolour", WATERCOLOUR)
    await add_style(harness, "Neon noir", "{prompt} in neon noir")
    suggest = await harness.standin.command(
        "imagine",
        [
            {"name": "prompt", "type": 3, "value": "a cat"},
            {"name": "style", "type": 3, "value": "NEON", "focused": True},
        ],
        guild=GUILD,
        channel=CHANNEL,
        user=BOB,
        autocomplete=True,
    )
    await harness.standin.wait_for(lambda: suggest.autocomplete is not None)
    assert suggest.autocomplete == [{"name": "Neon noir", "value": "Neon noir"}]


async def test_a_member_cannot_add_remove_or_list_styles_and_nothing_changes(harness: Harness) -> None:
    await add_style(harness, "Watercolour", WATERCOLOUR)
    before = await dump_rows(harness.config.database_url)
    commands: list[tuple[str, dict[str, Any]]] = [
        ("settings styles add", {"name": "Mine", "template": "{prompt}!"}),
        ("settings styles remove", {"name": "Watercolour"}),
        ("settings styles list", {}),
    ]
    for path, values in commands:
        answer = await harness.answer(await harness.slash(path, user=BOB, **values))
        assert answer.content == "You need the Manage Server permission to do that.", path
    assert await dump_rows(harness.config.database_url) == before


async def test_bad_styles_are_refused_with_a_sentence_and_not_stored(harness: Harness) -> None:
    before = await dump_rows(harness.config.database_url)
    assert await add_style(harness, "Plain", "a painting") == (
        "A style's template must contain {prompt} exactly once: that is where the member's words go."
    )
    assert (await add_style(harness, "Twice", "{prompt} and {prompt}")).startswith("A style's template must contain")
    assert await add_style(harness, "x" * 33, "{prompt}") == "A style's name is 1 to 32 characters."
    assert await dump_rows(harness.config.database_url) == before
    for number in range(25):
        assert "added" in await add_style(harness, f"style {number}", f"{{prompt}} number {number}")
    assert await add_style(harness, "one too many", "{prompt}") == (
        "This server has 25 styles, the most it can have; remove one to add another."
    )
    assert "now has this template" in await add_style(harness, "STYLE 3", "{prompt}, changed")  # not a new one
    removed = await harness.answer(await harness.slash("settings styles remove", permissions=ADMIN, name="style 0"))
    assert removed.content.startswith("That style is removed.")
    assert "added" in await add_style(harness, "one more", "{prompt}")


async def test_an_unknown_style_is_refused_privately_and_nothing_is_spent(harness: Harness) -> None:
    await add_style(harness, "Watercolour", WATERCOLOUR)
    interaction = await harness.imagine("a lighthouse", style="Oil")  # a client that ignores autocomplete
    text = await refused(harness, interaction)
    assert text == "This server has no style called “Oil”; pick one from the list the style option offers."
    assert harness.simulator.count(Endpoint.SUBMIT) == 0
    usage = await harness.ledger.usage(GUILD, ALICE)
    assert (usage.spent, usage.reserved) == (Money(0), Money(0))


async def test_the_expanded_prompt_is_what_the_length_limit_and_the_blocked_terms_see(harness: Harness) -> None:
    await add_style(harness, "Long", "{prompt} " + "very " * 190)
    await add_style(harness, "Spooky", "{prompt} with a ghost")
    await harness.answer(await harness.slash("settings blocked-terms add", permissions=ADMIN, term="ghost"))
    too_long = await harness.imagine("a" * 600, style="Long")
    assert "In the style “Long” your prompt is" in await refused(harness, too_long)
    assert "the limit is 1,500" in await refused(harness, too_long)
    blocked = await harness.imagine("a lighthouse", style="Spooky")
    assert "ghost" not in await refused(harness, blocked)
    async with harness.storage.transaction() as tx:
        (report,) = await tx.moderation.reports(GUILD)
    assert report.prompt == "a lighthouse with a ghost" and report.member_id == ALICE
    assert harness.simulator.count(Endpoint.SUBMIT) == 0


async def test_reroll_keeps_the_style_and_its_expanded_prompt(harness: Harness) -> None:
    await add_style(harness, "Watercolour", WATERCOLOUR)
    interaction = await harness.imagine("a lighthouse", style="Watercolour")
    message = await harness.reply(interaction)
    reroll = next(c for c in message.custom_ids() if c.startswith("imagine:reroll:"))
    click = await harness.standin.click(message.id, reroll, user=BOB)
    await harness.reply(click)
    rerolled = await harness.final((await harness.job_of(click)).id)
    assert rerolled.request.style == "Watercolour" and rerolled.request.member_prompt == "a lighthouse"
    assert rerolled.request.prompt == "a soft watercolour painting of a lighthouse, pastel colours"
