"""/budget and /settings through the real discord.py against the stand-in."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from bot.models import OverrideKind
from bot.money import Money
from tests.databases import dump_rows
from tests.discord_standin import MANAGE_GUILD, MEMBER_PERMISSIONS, StoredMessage
from tests.harness import (
    ALICE,
    ARTISTS,
    BOB,
    CHANNEL,
    GUILD,
    MOD_CHANNEL,
    OTHER_CHANNEL,
    ChannelRef,
    Harness,
    MemberRef,
    RoleRef,
)

ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD

EVERY_ADMIN_COMMAND: list[tuple[str, dict[str, Any]]] = [
    ("budget show", {}),
    ("budget member-default", {"amount": "5"}),
    ("budget server", {"amount": "5"}),
    ("budget server-clear", {}),
    ("budget role", {"role": RoleRef(ARTISTS), "amount": "5"}),
    ("budget role-clear", {"role": RoleRef(ARTISTS)}),
    ("budget member", {"member": MemberRef(BOB), "amount": "5"}),
    ("budget member-clear", {"member": MemberRef(BOB)}),
    ("budget report", {"days": 7}),
    ("settings mod-channel", {"channel": ChannelRef(MOD_CHANNEL)}),
    ("settings timezone", {"zone": "Europe/Berlin"}),
    ("settings pause", {}),
    ("settings resume", {}),
    ("settings safety-charged", {"charged": True}),
    ("settings channels add", {"channel": ChannelRef(OTHER_CHANNEL)}),
    ("settings channels remove", {"channel": ChannelRef(OTHER_CHANNEL)}),
    ("settings channels list", {}),
    ("settings blocked-terms add", {"term": "banana"}),
    ("settings blocked-terms remove", {"term": "banana"}),
    ("settings blocked-terms list", {}),
]


async def dump(harness: Harness) -> list[str]:
    return await dump_rows(harness.config.database_url)


async def test_every_admin_command_is_refused_privately_to_a_member_and_changes_nothing(harness: Harness) -> None:
    async with harness.storage.transaction() as tx:  # something for the clearing commands to clear
        await tx.guilds.update_settings(GUILD, harness.clock(), guild_daily_limit=Money(1_000_000))
        await tx.guilds.add_blocked_term(GUILD, "banana")
        await tx.guilds.allow_channel(GUILD, OTHER_CHANNEL)
    before = await dump(harness)
    seen = set()
    for path, values in EVERY_ADMIN_COMMAND:
        interaction = await harness.slash(path, user=BOB, **values)
        answer = await harness.answer(interaction)
        assert answer.content == "You need the Manage Server permission to do that.", path
        assert interaction.response_type == 4  # answered at once, privately
        seen.add(path)
    assert await dump(harness) == before
    assert len(seen) == len(EVERY_ADMIN_COMMAND)


async def what_the_server_has(harness: Harness) -> dict[str, Any]:
    async with harness.storage.transaction() as tx:
        settings = await tx.guilds.settings(GUILD)
        return {
            "settings": settings,
            "overrides": {(o.kind, o.target_id): o.daily_limit for o in await tx.guilds.overrides(GUILD)},
            "channels": await tx.guilds.allowed_channels(GUILD),
            "terms": await tx.guilds.blocked_terms(GUILD),
        }


# What each admin command must have done, read back from the database or from its answer (in table order).
EFFECTS: dict[str, Callable[[dict[str, Any], StoredMessage], bool]] = {
    "budget show": lambda _, answer: answer.embeds[0]["title"] == "Image budgets",
    "budget member-default": lambda has, _: has["settings"].member_daily_limit == Money(5_000_000),
    "budget server": lambda has, _: has["settings"].guild_daily_limit == Money(5_000_000),
    "budget server-clear": lambda has, _: has["settings"].guild_daily_limit is None,
    "budget role": lambda has, _: has["overrides"] == {(OverrideKind.ROLE, ARTISTS): Money(5_000_000)},
    "budget role-clear": lambda has, _: has["overrides"] == {},
    "budget member": lambda has, _: has["overrides"] == {(OverrideKind.MEMBER, BOB): Money(5_000_000)},
    "budget member-clear": lambda has, _: has["overrides"] == {},
    "budget report": lambda _, answer: {f.filename.rsplit(".", 1)[1] for f in answer.files} == {"csv", "png"},
    "settings mod-channel": lambda has, _: has["settings"].mod_channel_id == MOD_CHANNEL,
    "settings timezone": lambda has, _: has["settings"].timezone == "Europe/Berlin",
    "settings pause": lambda has, _: has["settings"].paused,
    "settings resume": lambda has, _: not has["settings"].paused,
    "settings safety-charged": lambda has, _: has["settings"].safety_charged,
    "settings channels add": lambda has, _: has["channels"] == [OTHER_CHANNEL],
    "settings channels remove": lambda has, _: has["channels"] == [],
    "settings channels list": lambda _, answer: answer.content == "/imagine works in every channel.",
    "settings blocked-terms add": lambda has, _: has["terms"] == ["banana"],
    "settings blocked-terms remove": lambda has, _: has["terms"] == [],
    "settings blocked-terms list": lambda _, answer: answer.content.startswith("No terms are blocked"),
}


async def test_every_admin_command_does_what_it_says_for_an_admin(harness: Harness) -> None:
    assert set(EFFECTS) == {path for path, _ in EVERY_ADMIN_COMMAND}
    for path, values in EVERY_ADMIN_COMMAND:
        answer = await harness.answer(await harness.slash(path, user=ALICE, permissions=ADMIN, **values))
        assert EFFECTS[path](await what_the_server_has(harness), answer), (path, answer.content)


async def test_a_member_budget_set_by_command_applies_to_the_next_imagine(harness: Harness) -> None:
    answer = await harness.answer(await harness.slash("budget member-default", permissions=ADMIN, amount="$0.008"))
    assert answer.content == "Members may now spend $0.008 a day each."
    await harness.reply(await harness.imagine("first"))
    refused = await harness.imagine("second")
    await harness.standin.wait_for(lambda: bool(harness.private_texts(refused)))
    assert harness.private_texts(refused)[0].startswith("This would cost $0.008 and you have $0.00 left")


async def test_a_role_budget_set_by_command_lifts_its_members(harness: Harness) -> None:
    await harness.answer(await harness.slash("budget member-default", permissions=ADMIN, amount="0"))
    await harness.answer(await harness.slash("budget role", permissions=ADMIN, role=RoleRef(ARTISTS), amount="0.016"))
    refused = await harness.imagine("no role")
    await harness.standin.wait_for(lambda: bool(harness.private_texts(refused)))
    assert "not enabled for you" in harness.private_texts(refused)[0]
    message = await harness.reply(await harness.imagine("with role", roles=[ARTISTS], count=2))
    assert len(message.files) == 2
    assert (await harness.ledger.usage(GUILD, ALICE, [ARTISTS])).limit == Money(16_000)


async def test_a_member_override_and_a_paused_server_apply_at_once(harness: Harness) -> None:
    await harness.answer(await harness.slash("budget member", permissions=ADMIN, member=MemberRef(BOB), amount="0"))
    refused = await harness.imagine("bob", user=BOB)
    await harness.standin.wait_for(lambda: bool(harness.private_texts(refused)))
    assert "not enabled for you" in harness.private_texts(refused)[0]
    await harness.answer(await harness.slash("settings pause", permissions=ADMIN))
    paused = await harness.imagine("alice")
    await harness.standin.wait_for(lambda: bool(harness.private_texts(paused)))
    assert harness.private_texts(paused)[0] == "Image generation is paused in this server by its admins."


@pytest.mark.parametrize("amount", ["abc", "-1", "0.0000001", "1,5", "$"])
async def test_an_invalid_amount_gets_a_clear_private_reason(harness: Harness, amount: str) -> None:
    before = await dump(harness)
    answer = await harness.answer(await harness.slash("budget server", permissions=ADMIN, amount=amount))
    assert answer.ephemeral and (
        "dollar amount" in answer.content or "negative" in answer.content or "six decimals" in answer.content
    )
    assert await dump(harness) == before


async def test_the_report_has_a_csv_that_matches_the_ledger_and_a_png_chart(harness: Harness) -> None:
    await harness.reply(await harness.imagine("one", count=2))
    await harness.reply(await harness.imagine("two", user=BOB))
    answer = await harness.answer(await harness.slash("budget report", permissions=ADMIN, days=3))
    files = {f.filename: f.data for f in answer.files}
    csv_name = next(name for name in files if name.endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(files[csv_name].decode())))
    assert list(rows[0]) == ["date", "member_id", "member_name", "images", "spent_usd"]
    ledger = await harness.ledger.report(GUILD, 3)
    assert [(r["date"], int(r["member_id"]), int(r["images"]), r["spent_usd"]) for r in rows] == [
        (row.day, row.member_id, row.images, row.spent.dollars()) for row in ledger.rows
    ]
    assert {r["member_name"] for r in rows} == {f"Member {ALICE}", f"Member {BOB}"}
    assert sum(Money.parse(r["spent_usd"]).micros for r in rows) == 24_000
    chart = Image.open(io.BytesIO(files["spend.png"]))
    chart.verify()
    assert chart.format == "PNG"
    assert answer.embeds[0]["fields"][0]["value"] == "$0.024 on 3 images"


async def test_budget_show_lists_the_settings_and_reminds_about_the_moderator_channel(harness: Harness) -> None:
    await harness.reply(await harness.imagine("one"))
    answer = await harness.answer(await harness.slash("budget show", permissions=ADMIN))
    fields = {f["name"]: f["value"] for f in answer.embeds[0]["fields"]}
    assert fields["Per member"] == "$0.08 (the bot's default)"
    assert fields["Top spender today"].startswith(f"<@{ALICE}>: $0.008")
    assert "not set" in fields["Moderator channel"]
    reminder = await harness.answer(await harness.slash("settings pause", permissions=ADMIN))
    assert "No moderator channel is set" in reminder.content


async def test_channels_limit_where_imagine_works(harness: Harness) -> None:
    answer = await harness.answer(
        await harness.slash("settings channels add", permissions=ADMIN, channel=ChannelRef(OTHER_CHANNEL))
    )
    assert f"<#{OTHER_CHANNEL}>" in answer.content
    refused = await harness.imagine("here", channel=CHANNEL)
    await harness.standin.wait_for(lambda: bool(harness.private_texts(refused)))
    assert "cannot be used in this channel" in harness.private_texts(refused)[0]
    await harness.reply(await harness.imagine("there", channel=OTHER_CHANNEL))


async def test_the_time_zone_is_checked_and_offered_by_autocomplete(harness: Harness) -> None:
    wrong = await harness.answer(await harness.slash("settings timezone", permissions=ADMIN, zone="Mars/Olympus"))
    assert "is not a time zone" in wrong.content
    right = await harness.answer(await harness.slash("settings timezone", permissions=ADMIN, zone="pacific/auckland"))
    assert "Pacific/Auckland" in right.content
    assert (await harness.ledger.usage(GUILD, ALICE)).resets_at.utcoffset() is not None
    suggest = await harness.standin.command(
        "settings",
        [{"name": "timezone", "type": 1, "options": [{"name": "zone", "type": 3, "value": "berl", "focused": True}]}],
        guild=GUILD,
        channel=CHANNEL,
        user=ALICE,
        permissions=ADMIN,
        autocomplete=True,
    )
    await harness.standin.wait_for(lambda: suggest.autocomplete is not None)
    assert suggest.autocomplete == [{"name": "Europe/Berlin", "value": "Europe/Berlin"}]


async def test_a_budget_on_everyone_is_refused_and_pointed_to_the_member_default(harness: Harness) -> None:
    before = await dump(harness)
    everyone = RoleRef(GUILD)  # @everyone's id is the server's
    answer = await harness.answer(await harness.slash("budget role", permissions=ADMIN, role=everyone, amount="1"))
    assert answer.content == (
        "@everyone is not a role for budgets: every member has it. Use /budget member-default to set everyone's budget."
    )
    assert await dump(harness) == before


async def test_usage_and_imagine_read_a_members_roles_the_same_way(harness: Harness) -> None:
    async with harness.storage.transaction() as tx:  # an @everyone budget from before it was refused
        await tx.guilds.set_override(GUILD, OverrideKind.ROLE, GUILD, Money(0))
    mine = await harness.standin.command("usage", [], guild=GUILD, channel=CHANNEL, user=ALICE)
    await harness.standin.wait_for(lambda: (m := harness.standin.original(mine)) is not None and bool(m.embeds))
    shown = harness.standin.original(mine)
    assert shown is not None
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields["Left"] == "$0.08 of $0.08"  # what /imagine will allow, not the @everyone row
    await harness.reply(await harness.imagine("a lighthouse"))
