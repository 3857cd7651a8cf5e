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


def guild_of(interaction: discord.Interaction[Any]) -> int:
    """The server of a guild-only command or of a button on a server's message."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


# What a review card needs in the moderator channel.
CARD_PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True, attach_files=True)


def missing_permissions(guild: discord.Guild | None, channel_id: int, needed: discord.Permissions) -> list[str] | None:
    """The permissions the bot lacks in a channel, by the names Discord shows; None when its cache cannot tell."""
    channel = guild.get_channel(channel_id) if guild is not None else None
    if guild is None or guild.me is None or channel is None:
        return None
    held = channel.permissions_for(guild.me)
    return [permission_title(name) for name, wanted in needed if wanted and not getattr(held, name)]


def permission_title(name: str) -> str:
    return name.replace("_", " ").title().replace("Guild", "Server")


def spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
