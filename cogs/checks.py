"""Who may use admin and moderator commands, checked in the bot: Discord's defaults are only a hint."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands


def is_admin(permissions: discord.Permissions) -> bool:
    return permissions.manage_guild or permissions.administrator


def is_moderator(permissions: discord.Permissions) -> bool:
    """Moderate Members; Manage Server and Administrator count as moderators too."""
    return permissions.moderate_members or is_admin(permissions)


def budget_roles(member: discord.abc.User) -> tuple[int, ...]:
    """The roles a member's budget depends on: every role but @everyone, which all members have."""
    return tuple(role.id for role in getattr(member, "roles", []) if not role.is_default())


def require_admin(interaction: discord.Interaction[Any]) -> bool:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not is_admin(interaction.permissions):
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


def require_moderator(interaction: discord.Interaction[Any]) -> bool:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not is_moderator(interaction.permissions):
        raise app_commands.MissingPermissions(["moderate_members"])
    return True


async def reply(interaction: discord.Interaction[Any], content: str = "", **kwargs: Any) -> None:
    """A private answer, whether or not the interaction was deferred."""
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)
