"""What admins change, without Discord: the rules of `bot.servers` on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.errors import InvalidRequestError
from bot.models import OverrideKind
from bot.money import Money
from bot.servers import MAX_TERM_CHARS, Servers
from bot.storage import open_storage

GUILD, ROLE, MEMBER = 100, 200, 300
NOW = datetime(2026, 11, 26, 15, tzinfo=UTC)


@pytest.fixture
async def servers(bot_database: str) -> AsyncIterator[Servers]:
    async with open_storage(bot_database) as storage:
        yield Servers(storage, lambda: NOW)


async def test_budgets_and_overrides_are_kept_and_cleared(servers: Servers) -> None:
    await servers.set_member_default(GUILD, Money.parse("0.05"))
    await servers.set_server_budget(GUILD, Money.parse("2"))
    await servers.set_override(GUILD, OverrideKind.ROLE, ROLE, Money.parse("0.5"))
    await servers.set_override(GUILD, OverrideKind.MEMBER, MEMBER, Money.parse("0"))
    overview = await servers.overview(GUILD)
    assert (overview.settings.member_daily_limit, overview.settings.guild_daily_limit) == (
        Money(50_000),
        Money(2_000_000),
    )
    assert {(o.kind, o.target_id): o.daily_limit for o in overview.overrides} == {
        (OverrideKind.ROLE, ROLE): Money(500_000),
        (OverrideKind.MEMBER, MEMBER): Money(0),
    }
    assert await servers.clear_override(GUILD, OverrideKind.ROLE, ROLE)
    assert not await servers.clear_override(GUILD, OverrideKind.ROLE, ROLE)  # nothing left to clear
    await servers.set_server_budget(GUILD, None)
    assert (await servers.settings(GUILD)).guild_daily_limit is None


async def test_everyone_is_not_a_budget_role(servers: Servers) -> None:
    with pytest.raises(InvalidRequestError, match="/budget member-default"):
        await servers.set_override(GUILD, OverrideKind.ROLE, GUILD, Money(1))
    assert (await servers.overview(GUILD)).overrides == []


async def test_a_time_zone_is_read_in_any_case_and_an_unknown_one_is_refused(servers: Servers) -> None:
    assert await servers.set_timezone(GUILD, "  pacific/AUCKLAND ") == "Pacific/Auckland"
    assert (await servers.settings(GUILD)).timezone == "Pacific/Auckland"
    with pytest.raises(InvalidRequestError, match="is not a time zone"):
        await servers.set_timezone(GUILD, "Mars/Olympus")
    assert (await servers.settings(GUILD)).timezone == "Pacific/Auckland"
    assert servers.timezones_like("")[0] == "UTC"
    assert servers.timezones_like("new york") == ["America/New_York"]


async def test_channels_list_where_imagine_works(servers: Servers) -> None:
    assert await servers.allow_channel(GUILD, 2) == (True, [2])
    assert await servers.allow_channel(GUILD, 1) == (True, [1, 2])
    assert await servers.allow_channel(GUILD, 1) == (False, [1, 2])
    assert await servers.disallow_channel(GUILD, 2) == (True, [1])
    assert await servers.disallow_channel(GUILD, 2) == (False, [1])


async def test_blocked_terms_are_stored_folded_and_bounded(servers: Servers) -> None:
    assert await servers.add_blocked_term(GUILD, "  Bad   WORD ") == (True, "bad word")
    assert await servers.add_blocked_term(GUILD, "bad word") == (False, "bad word")
    with pytest.raises(InvalidRequestError, match=f"1 to {MAX_TERM_CHARS} characters"):
        await servers.add_blocked_term(GUILD, "x" * (MAX_TERM_CHARS + 1))
    with pytest.raises(InvalidRequestError):
        await servers.add_blocked_term(GUILD, "   ")
    assert await servers.blocked_terms(GUILD) == ["bad word"]
    assert await servers.remove_blocked_term(GUILD, "BAD WORD")
    assert await servers.blocked_terms(GUILD) == []


async def test_pause_safety_and_the_moderator_channel_are_set(servers: Servers) -> None:
    await servers.set_paused(GUILD, True)
    await servers.set_safety_charged(GUILD, True)
    await servers.set_mod_channel(GUILD, 42)
    settings = await servers.settings(GUILD)
    assert (settings.paused, settings.safety_charged, settings.mod_channel_id) == (True, True, 42)
    await servers.set_paused(GUILD, False)
    assert not (await servers.settings(GUILD)).paused
