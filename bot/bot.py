"""`ImagineBot`: the discord.py client, its command tree with the one error translator, and start-up.

The bot holds the resources built in `__main__` (configuration, database, ledger, Pixazo client)
and hands them to its extensions. It syncs slash commands only when their definition changed
since the last sync, so restarts never spend Discord's daily command-create budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
from typing import Any, Protocol, runtime_checkable

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands, tasks

from bot.config import Config
from bot.errors import BotError, StartupError
from bot.health import HEARTBEAT_EVERY_SECONDS, heartbeat_path, write_heartbeat
from bot.services import Services

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.imagine", "cogs.admin", "cogs.moderation")
TREE_HASH_KEY = "command_tree_hash"
IDENTIFY_GAP_SECONDS = 5.0  # Discord: max_concurrency IDENTIFYs per 5 s, one per bucket
PUBLIC_PLACEHOLDER = "public_placeholder"  # Interaction.extras key: a public "thinking…" reply is showing
ON_ANSWERED = "on_answered"  # Interaction.extras key: what to await once the member has been given the reason
# What the bot needs where it posts: results with their images, in channels and their threads, and its own
# messages read back after a restart. The invite link asks for exactly these.
POSTING_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


class ImagineTree(app_commands.CommandTree["ImagineBot"]):
    async def on_error(self, interaction: discord.Interaction[ImagineBot], error: app_commands.AppCommandError) -> None:
        await explain(interaction, error)


@runtime_checkable
class Resumable(Protocol):
    """A cog with work that outlives the process (jobs), to pick up once everything is loaded."""

    async def resume_work(self) -> None: ...


@runtime_checkable
class OffersOnRefusal(Protocol):
    """A cog that puts a button under some refusals (a blocked member's Ask for a review)."""

    def refusal_view(self, error: BotError) -> discord.ui.View | None: ...


class ImagineBot(commands.AutoShardedBot):
    def __init__(
        self,
        *,
        config: Config,
        services: Services,
        serve: bool = True,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # slash commands and buttons need no other intent
        # This bot has no voice: the libraries voice would need are no news to the operator.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        options.setdefault("chunk_guilds_at_startup", False)
        if config.shard_count is not None:
            options.setdefault("shard_count", config.shard_count)
        if config.shard_ids is not None:
            options.setdefault("shard_ids", list(config.shard_ids))
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=ImagineTree,
            max_messages=None,
            **options,
        )
        self.config = config
        self.services = services
        self.clock = services.clock
        self.storage = services.storage
        self.ledger = services.ledger
        self.servers = services.servers
        self.pixazo = services.pixazo
        self.moderation = services.moderation
        self.appeals = services.appeals
        self.history = services.history
        self.styles = services.styles
        self.preferences = services.preferences
        self.serve = serve  # False for `python -m bot sync`: load the commands, start no work
        self._login_deadline: asyncio.Timeout | None = None
        self._identify_buckets = 1
        discord.http.Route.BASE = config.discord_api_base_url
        if config.discord_gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.discord_gateway_url)

    async def login(self, token: str) -> None:
        """Log in to Discord, or raise `StartupError` saying why not, in one line.

        Only Discord's answers are bounded by DISCORD_LOGIN_TIMEOUT_SECONDS: `setup_hook`, which discord.py
        runs at the end of `login`, is the bot's own start-up and lifts the deadline.
        """
        api = self.config.discord_api_base_url
        self._login_deadline = deadline = asyncio.timeout(self.config.discord_login_timeout_seconds)
        try:
            async with deadline:
                await super().login(token)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise StartupError(
                f"Discord did not answer within {self.config.discord_login_timeout_seconds:g} s at {api}: check "
                "DISCORD_API_BASE_URL and the network (DISCORD_LOGIN_TIMEOUT_SECONDS sets how long to wait)."
            ) from None
        except (discord.DiscordException, aiohttp.ClientError) as exc:
            if deadline.when() is None:
                raise  # it came from setup_hook, after Discord answered
            raise StartupError(login_problem(exc, api)) from None

    async def setup_hook(self) -> None:
        if self._login_deadline is not None:
            self._login_deadline.reschedule(None)
        for extension in EXTENSIONS:
            await self.load_extension(extension)  # each adds its commands and registers its buttons
        if not self.serve:
            return
        self.heartbeat.start()
        for cog in self.cogs.values():
            if isinstance(cog, Resumable):
                await cog.resume_work()
        await self.sync_commands_if_changed()

    async def on_ready(self) -> None:
        shards = ", ".join(str(shard) for shard in sorted(self.shards)) or "none"
        log.info(
            "Logged in as %s (id %s) in %d servers, shards %s of %s; invite it with %s",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
            shards,
            self.shard_count,
            self.invite_url(),
        )

    def refusal_view(self, error: BotError) -> discord.ui.View | None:
        """The buttons a cog puts under this refusal, if any."""
        for cog in self.cogs.values():
            if isinstance(cog, OffersOnRefusal) and (view := cog.refusal_view(error)) is not None:
                return view
        return None

    def invite_url(self) -> str:
        """The link that adds the bot to a server with the permissions it uses, and its slash commands."""
        return discord.utils.oauth_url(
            self.application_id or 0, permissions=POSTING_PERMISSIONS, scopes=("bot", "applications.commands")
        )

    async def close(self) -> None:
        self.heartbeat.cancel()
        await super().close()  # unloads the extensions, which stop their work and keep it for the next start

    @tasks.loop(seconds=HEARTBEAT_EVERY_SECONDS)
    async def heartbeat(self) -> None:
        """What `python -m bot check --health` (the container's health check) reads."""
        try:
            write_heartbeat(
                heartbeat_path(self.config),
                ready=self.is_ready(),
                guilds=len(self.guilds),
                database="reachable" if self.storage.reachable else "unreachable",
            )
        except OSError as exc:
            log.warning("could not write the heartbeat: %s", exc)

    async def launch_shards(self) -> None:
        shard_count: int | None = self.shard_count
        recommended, url, limits = await self.http.get_bot_gateway()
        self._identify_buckets = max(1, int(limits.get("max_concurrency", 1)))
        # With a shard count set, discord.py connects to DEFAULT_GATEWAY instead of /gateway/bot's URL.
        if not self.config.discord_gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        if shard_count is None:
            self.shard_count = recommended
        await super().launch_shards()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Log in at Discord's pace for the whole deployment: one IDENTIFY per bucket every 5 s, whichever
        process sends it (a turn taken in the database), instead of discord.py's pace for one process."""
        bucket = (shard_id or 0) % self._identify_buckets
        while True:
            async with self.storage.transaction() as tx:
                wait = await tx.take_login_turn(bucket, IDENTIFY_GAP_SECONDS)
            if wait <= 0:
                return
            log.debug("shard %s waits %.1f s for its turn to log in", shard_id, wait)
            await asyncio.sleep(wait)

    async def sync_commands_if_changed(self) -> bool:
        """Register the slash commands with Discord if they differ from the last registered set."""
        digest = self.command_tree_hash()
        async with self.storage.transaction() as tx:  # claimed in the transaction: one process syncs
            synced = await tx.get_state(TREE_HASH_KEY)
            if synced != digest:
                await tx.set_state(TREE_HASH_KEY, digest)
        if synced == digest:
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        try:
            await self.sync_commands()
        except BaseException:
            async with self.storage.transaction() as tx:  # the next start tries again
                await tx.set_state(TREE_HASH_KEY, synced or "")
            raise
        return True

    async def sync_commands(self, guild_id: int | None = None) -> int:
        """Register the slash commands now: everywhere, or at once in one server (for development)."""
        guild = discord.Object(guild_id) if guild_id is not None else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        if guild is None:
            async with self.storage.transaction() as tx:
                await tx.set_state(TREE_HASH_KEY, self.command_tree_hash())
        log.info("synced %d slash commands%s", len(synced), f" to server {guild_id}" if guild_id else "")
        return len(synced)

    async def clear_server_commands(self, guild_id: int) -> None:
        """Remove a server's own copy of the commands, so they do not show twice once the global ones arrive."""
        guild = discord.Object(guild_id)
        self.tree.clear_commands(guild=guild)
        await self.tree.sync(guild=guild)
        log.info("removed the slash commands of server %d", guild_id)

    def command_tree_hash(self) -> str:
        definition = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        encoded = json.dumps(definition, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()


def login_problem(exc: Exception, api: str) -> str:
    """The operator's line for a login that failed."""
    if isinstance(exc, discord.LoginFailure):
        return "Discord refused the token: check DISCORD_TOKEN (Bot → Reset Token in the developer portal)."
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = "no such host" if isinstance(exc.os_error, socket.gaierror) else exc.os_error.strerror or exc.os_error
        return f"cannot reach Discord at {exc.host}:{exc.port} ({reason}): check DISCORD_API_BASE_URL and the network."
    if isinstance(exc, discord.HTTPException) and exc.status >= 500:
        return f"Discord answered HTTP {exc.status} at {api}: it may be having an outage; try again in a while."
    if isinstance(exc, discord.HTTPException):
        return (
            f"Discord's API answered HTTP {exc.status} at {api}: check DISCORD_API_BASE_URL "
            "(Discord's own is https://discord.com/api/v10)."
        )
    return f"cannot reach Discord at {api} ({type(exc).__name__}): check DISCORD_API_BASE_URL and the network."


async def explain(interaction: discord.Interaction[Any], error: Exception) -> None:
    """The one place that turns an exception into a private, one-sentence reply."""
    original: BaseException = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, app_commands.TransformerError) and original.__cause__ is not None:
        original = original.__cause__
    if isinstance(original, BotError):
        text = str(original)
    elif isinstance(original, app_commands.MissingPermissions):
        text = f"You need the {_permission_names(original.missing_permissions)} permission to do that."
    elif isinstance(original, app_commands.NoPrivateMessage):
        text = "This command works only in a server."
    elif isinstance(original, app_commands.CheckFailure):
        text = "You are not allowed to do that here."
    else:
        log.error("unexpected error in %s", _what(interaction), exc_info=original)
        text = "Something went wrong on our side; it has been logged."
    client = interaction.client
    view = client.refusal_view(original) if isinstance(original, BotError) and isinstance(client, ImagineBot) else None
    if view is None:
        await reply_privately(interaction, text)
    else:
        await reply_privately(interaction, text, view=view)
        view.stop()
    answered = interaction.extras.pop(ON_ANSWERED, None)
    if answered is not None:
        await answered()


async def reply_privately(interaction: discord.Interaction[Any], content: str = "", **kwargs: Any) -> None:
    """Answer only the member, deferred or not. A public placeholder is deleted first (or, failing that, made
    neutral), since the first follow-up of a public deferral would otherwise replace it in public."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(content, ephemeral=True, **kwargs)
            return
        if interaction.extras.get(PUBLIC_PLACEHOLDER):
            interaction.extras[PUBLIC_PLACEHOLDER] = False
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                await interaction.edit_original_response(content="This request could not go ahead.", embeds=[])
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    except discord.HTTPException as exc:
        log.warning("could not answer a member privately: %s", exc)


def _permission_names(names: list[str]) -> str:
    return " and ".join(name.replace("_", " ").title().replace("Guild", "Server") for name in names)


def _what(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    return f"button {data.get('custom_id', '?')}"
