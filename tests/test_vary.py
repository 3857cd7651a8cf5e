"""Vary: a form with the prompt to edit; what is sent back is a new job, checked and charged to whoever sent it."""

from __future__ import annotations

from bot.models import Job
from bot.money import Money
from bot.simulator import Endpoint
from tests.discord_standin import MANAGE_GUILD, MEMBER_PERMISSIONS, Interaction, StoredMessage
from tests.harness import ALICE, BOB, GUILD, Harness, MemberRef

ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD


async def styled_result(harness: Harness) -> tuple[Job, StoredMessage]:
    added = await harness.slash(
        "settings styles add", permissions=ADMIN, name="Ink", template="an ink drawing of {prompt}"
    )
    await harness.answer(added)
    interaction = await harness.imagine("a lighthouse", style="Ink", seed=42, size="portrait")
    message = await harness.reply(interaction)
    return await harness.final((await harness.job_of(interaction)).id), message


async def open_form(harness: Harness, message: StoredMessage, user: int) -> Interaction:
    vary = next(c for c in message.custom_ids() if c.startswith("imagine:vary:"))
    pressed = await harness.standin.click(message.id, vary, user=user)
    await harness.standin.wait_for(lambda: pressed.response_type is not None)
    return pressed


def prefilled(form: Interaction) -> str:
    assert form.response_type == 9 and form.modal is not None  # a form is the answer, with no deferral first
    (label,) = form.modal["components"]
    assert label["component"]["min_length"] == 1 and label["component"]["max_length"] == 1500
    return str(label["component"]["value"])


async def test_vary_makes_a_new_job_in_the_same_style_size_and_seed_charged_to_whoever_sent_it(
    harness: Harness,
) -> None:
    first, message = await styled_result(harness)
    assert "imagine:vary:" + str(first.id) in message.custom_ids()
    form = await open_form(harness, message, BOB)
    assert prefilled(form) == "a lighthouse"  # the member's own words, before the style
    assert form.modal is not None and form.modal["custom_id"] == f"imagine:vary:{first.id}"
    sent = await harness.standin.submit(form, {"prompt": "a lighthouse in a storm"})
    await harness.reply(sent)
    varied = await harness.final((await harness.job_of(sent)).id)
    assert varied.request.prompt == "an ink drawing of a lighthouse in a storm"
    assert (varied.request.member_prompt, varied.request.style) == ("a lighthouse in a storm", "Ink")
    assert (varied.request.size, varied.request.seed, varied.request.count) == ("portrait", 42, 1)
    assert varied.request.parent_id == first.id and varied.member_id == BOB
    assert (await harness.ledger.usage(GUILD, BOB)).spent == Money(8_000)
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(8_000)  # only her own image


async def test_a_form_opened_before_a_restart_is_handled_after_it(harness: Harness) -> None:
    _, message = await styled_result(harness)
    form = await open_form(harness, message, ALICE)
    await harness.stop()
    await harness.start()
    sent = await harness.standin.submit(form, {"prompt": "a lighthouse at dawn"})
    varied = await harness.final((await harness.job_of(sent)).id)
    assert varied.request.prompt == "an ink drawing of a lighthouse at dawn"
    again = await open_form(harness, message, ALICE)  # and the button itself works after the restart
    assert prefilled(again) == "a lighthouse"


async def test_an_empty_or_too_long_prompt_is_refused_privately_and_nothing_is_spent(harness: Harness) -> None:
    _, message = await styled_result(harness)
    submits = harness.simulator.count(Endpoint.SUBMIT)
    for typed, said in [
        ("   ", "Your prompt is empty; describe the image you want."),
        ("x" * 1501, "Your prompt is 1,501 characters long; the limit is 1,500."),
        ("x" * 1490, "In the style “Ink” your prompt is 1,508 characters long; the limit is 1,500."),
    ]:
        sent = await harness.standin.submit(await open_form(harness, message, BOB), {"prompt": typed})
        await harness.standin.wait_for(lambda: bool(harness.private_texts(sent)))  # noqa: B023 - awaited here
        assert harness.private_texts(sent) == [said]
        assert harness.standin.messages[sent.original_id or 0].deleted  # the public placeholder did not linger
    assert harness.simulator.count(Endpoint.SUBMIT) == submits
    usage = await harness.ledger.usage(GUILD, BOB)
    assert (usage.spent, usage.reserved) == (Money(0), Money(0))


async def test_a_member_without_budget_is_refused_and_the_original_requester_is_not_charged(
    harness: Harness,
) -> None:
    _, message = await styled_result(harness)
    await harness.answer(await harness.slash("budget member", permissions=ADMIN, member=MemberRef(BOB), amount="0"))
    sent = await harness.standin.submit(await open_form(harness, message, BOB), {"prompt": "a lighthouse at night"})
    await harness.standin.wait_for(lambda: bool(harness.private_texts(sent)))
    assert harness.private_texts(sent)[0].startswith("Image generation is not enabled for you in this server")
    assert (await harness.ledger.usage(GUILD, ALICE)).spent == Money(8_000)
    assert (await harness.ledger.usage(GUILD, BOB)).reserved == Money(0)


async def test_vary_of_an_image_whose_style_was_removed_is_refused_with_a_sentence(harness: Harness) -> None:
    _, message = await styled_result(harness)
    await harness.answer(await harness.slash("settings styles remove", permissions=ADMIN, name="Ink"))
    sent = await harness.standin.submit(await open_form(harness, message, BOB), {"prompt": "a lighthouse in fog"})
    await harness.standin.wait_for(lambda: bool(harness.private_texts(sent)))
    assert harness.private_texts(sent) == [
        "The style “Ink” of that image was removed from this server, so it cannot be varied; /imagine makes a new one."
    ]
    assert (await harness.ledger.usage(GUILD, BOB)).reserved == Money(0)
