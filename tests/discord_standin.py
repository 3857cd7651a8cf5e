"""A Discord stand-in: the gateway and the REST routes imagine-bot uses, spoken to the real discord.py.

It is an `aiohttp.web` application on 127.0.0.1. The bot under test is unpatched: only
`discord.http.Route.BASE` and the gateway URL point here. The stand-in keeps what Discord would
(messages with their attachments, interactions with their tokens) and enforces what Discord does:
the 3-second acknowledgement, the token lifetime, file size limits, "already acknowledged", and
the first follow-up of a deferred reply replacing its placeholder. It records every request,
injects 429s (with `Via`, so discord.py retries) and 5xx on demand, and holds requests back as a slow
Discord would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

DISCORD_EPOCH_MS = 1_420_070_400_000
_BODY = web.RequestKey("standin_body", tuple)
EPHEMERAL = 1 << 6
LOADING = 1 << 7
# Permission bits used by the tests.
MANAGE_MESSAGES = 1 << 13
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
MODERATE_MEMBERS = 1 << 40
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 31)  # view channel, send messages, use application commands
EMBED_LINKS, ATTACH_FILES = 1 << 14, 1 << 15
# What the bot's own role grants it: the invite's permissions (view, send, threads, embed, attach, history).
BOT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 38) | EMBED_LINKS | ATTACH_FILES | (1 << 16)


@dataclass
class StoredFile:
    filename: str
    data: bytes
    content_type: str


@dataclass
class StoredMessage:
    id: int
    channel_id: int
    guild_id: int | None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[tuple[int, StoredFile]] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: dict[str, Any] | None = None
    interaction_id: int | None = None
    deleted: bool = False
    edits: int = 0

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def files(self) -> list[StoredFile]:
        return [stored for _, stored in self.attachments]

    def custom_ids(self) -> list[str]:
        return [
            component["custom_id"]
            for row in self.components
            for component in row.get("components", [])
            if "custom_id" in component
        ]


@dataclass
class Interaction:
    id: int
    token: str
    kind: int  # 2 command, 3 component, 4 autocomplete, 5 modal submit
    guild_id: int
    channel_id: int
    user_id: int
    created: float
    expires: float
    payload: dict[str, Any]
    acked_at: float | None = None
    response_type: int | None = None
    original_id: int | None = None
    followups: list[int] = field(default_factory=list)
    autocomplete: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None  # the form the bot answered with (response type 9)


@dataclass
class Recorded:
    method: str
    path: str
    at: float
    json: Any
    files: list[StoredFile]
    headers: dict[str, str]


@dataclass
class _Hook:
    method: str
    pattern: re.Pattern[str]
    action: Callable[[Recorded], None]
    when: Callable[[Recorded], bool] | None
    left: int


@dataclass
class _Hold:
    method: str
    pattern: re.Pattern[str]
    when: Callable[[Recorded], bool] | None
    released: asyncio.Event
    left: int


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    retry_after: float
    left: int


class DiscordStandin:
    def __init__(
        self,
        *,
        token: str,
        guilds: dict[int, list[int]],
        roles: dict[int, list[int]] | None = None,
        application_id: int = 777_000_000_000_000_001,
        ack_timeout: float = 3.0,
        token_lifetime: float = 15 * 60,
        attachment_limit: int = 10 * 1024 * 1024,
        shards: int = 1,
    ) -> None:
        self.token = token
        self.shards = shards  # what /gateway/bot recommends; a server is on shard (id >> 22) % the count used
        self.guilds = guilds
        self.roles = roles or {}
        self.application_id = application_id
        self.bot_user_id = application_id
        self.ack_timeout = ack_timeout
        self.token_lifetime = token_lifetime
        self.attachment_limit = attachment_limit
        self.requests: list[Recorded] = []
        self.messages: dict[int, StoredMessage] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: list[dict[str, Any]] = []
        self.command_puts = 0
        self.denied_channels: set[int] = set()
        self.unreadable_channels: set[int] = set()  # the bot may post but not read back (no Read Message History)
        self.bot_denied: dict[int, int] = {}  # channel → permission bits an overwrite takes from the bot there
        self.callback_delay = 0.0  # how long an interaction callback takes to be answered, like a real round trip
        self.identifies = 0
        self.logins: list[tuple[float, int, int]] = []  # (when, shard, shard count) of every IDENTIFY
        self.resumes = 0
        self._failures: list[_Failure] = []
        self._hooks: list[_Hook] = []
        self._holds: list[_Hold] = []
        self._counter = itertools.count()
        self._sockets: list[web.WebSocketResponse] = []
        self._shard_of: dict[web.WebSocketResponse, tuple[int, int]] = {}
        self._seq = 0
        self._ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        api = "/api/v10"
        self.app.add_routes(
            [
                web.get("/gateway", self._gateway),
                web.get(f"{api}/gateway/bot", self._gateway_bot),
                web.get(f"{api}/users/@me", self._me),
                web.get(f"{api}/oauth2/applications/@me", self._application),
                web.get(f"{api}/applications/{{app}}/commands", self._get_commands),
                web.put(f"{api}/applications/{{app}}/commands", self._put_commands),
                web.put(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands),
                web.post(f"{api}/interactions/{{iid}}/{{token}}/callback", self._callback),
                web.post(f"{api}/webhooks/{{app}}/{{token}}", self._followup),
                web.get(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_message),
                web.patch(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_message),
                web.delete(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_message),
                web.post(f"{api}/channels/{{cid}}/messages", self._channel_post),
                web.get(f"{api}/channels/{{cid}}/messages/{{mid}}", self._channel_message),
                web.patch(f"{api}/channels/{{cid}}/messages/{{mid}}", self._channel_message),
                web.delete(f"{api}/channels/{{cid}}/messages/{{mid}}", self._channel_message),
                web.get(f"{api}/channels/{{cid}}", self._channel),
            ]
        )

    # --- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway"

    async def wait_ready(self, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until `predicate` holds; it is checked whenever a request or a login arrives."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    # --- what tests do --------------------------------------------------------------------------

    def snowflake(self, at: float | None = None) -> int:
        millis = int((time.time() if at is None else at) * 1000)
        return ((millis - DISCORD_EPOCH_MS) << 22) | (next(self._counter) & 0x3FFFFF)

    async def command(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        guild: int,
        channel: int,
        user: int,
        roles: list[int] | None = None,
        permissions: int = MEMBER_PERMISSIONS,
        resolved: dict[str, Any] | None = None,
        autocomplete: bool = False,
    ) -> Interaction:
        """Send a slash command (or its autocomplete) as a member would."""
        data: dict[str, Any] = {"id": str(self.snowflake()), "name": name, "type": 1, "options": options or []}
        if resolved:
            data["resolved"] = resolved
        return await self._interact(4 if autocomplete else 2, data, guild, channel, user, roles, permissions)

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: int,
        roles: list[int] | None = None,
        permissions: int = MEMBER_PERMISSIONS,
    ) -> Interaction:
        """Press a button on a message."""
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        assert message.guild_id is not None
        return await self._interact(3, data, message.guild_id, message.channel_id, user, roles, permissions, message)

    async def submit(self, opened: Interaction, values: dict[str, str] | None = None) -> Interaction:
        """Submit the form (modal) the bot answered `opened` with, as its member: each text input holds what
        `values` gives for its custom_id, else what the bot put in it. Discord sends it as a MODAL_SUBMIT."""
        assert opened.modal is not None, "the bot answered with no form"
        typed = values or {}

        def entered(component: dict[str, Any]) -> dict[str, Any]:
            custom_id = component["custom_id"]
            value = typed.get(custom_id, component.get("value", ""))
            return {"type": 4, "id": component.get("id", 0), "custom_id": custom_id, "value": value}

        components = [
            {"type": 18, "id": row.get("id", 0), "component": entered(row["component"])}
            if row["type"] == 18
            else {"type": 1, "components": [entered(child) for child in row["components"]]}
            for row in opened.modal["components"]
        ]
        data = {"custom_id": opened.modal["custom_id"], "components": components}
        message_id = opened.payload.get("message", {}).get("id")
        message = self.messages[int(message_id)] if message_id else None
        permissions = int(opened.payload["member"]["permissions"])
        roles = [int(role) for role in opened.payload["member"]["roles"]]
        return await self._interact(
            5, data, opened.guild_id, opened.channel_id, opened.user_id, roles, permissions, message
        )

    def fail(
        self, method: str, pattern: str, status: int, *, code: int = 0, retry_after: float = 0.05, times: int = 1
    ) -> None:
        """Answer the next `times` requests whose path matches `pattern` with an error."""
        self._failures.append(_Failure(method.upper(), re.compile(pattern), status, code, retry_after, times))

    def deny_bot(self, channel_id: int, permissions: int) -> None:
        """Take permissions from the bot in one channel by an overwrite, as an admin would (before it connects)."""
        self.bot_denied[channel_id] = permissions

    def on_request(
        self,
        method: str,
        pattern: str,
        action: Callable[[Recorded], None],
        *,
        when: Callable[[Recorded], bool] | None = None,
        times: int = 1,
    ) -> None:
        """Call `action` when a matching request has arrived whole, before it is handled and answered.

        What the request asks is still done, as Discord would; `action` may kill the bot so that it never
        hears the answer: the worst moment for a crash.
        """
        self._hooks.append(_Hook(method.upper(), re.compile(pattern), action, when, times))

    def hold(
        self, method: str, pattern: str, *, when: Callable[[Recorded], bool] | None = None, times: int = 1
    ) -> asyncio.Event:
        """Keep matching requests waiting before they are handled, as a slow Discord would, until the returned
        event is set. Meanwhile the rest of the stand-in answers as usual."""
        released = asyncio.Event()
        self._holds.append(_Hold(method.upper(), re.compile(pattern), when, released, times))
        return released

    async def reconnect_gateway(self) -> None:
        """Ask the bot to reconnect (op 7), as Discord does when it moves a session."""
        self._ready.clear()
        for socket in list(self._sockets):
            await socket.send_json({"op": 7, "d": None})

    def visible(self, channel_id: int) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]

    def original(self, interaction: Interaction) -> StoredMessage | None:
        return None if interaction.original_id is None else self.messages.get(interaction.original_id)

    def requests_to(self, pattern: str, method: str | None = None) -> list[Recorded]:
        regex = re.compile(pattern)
        return [r for r in self.requests if regex.search(r.path) and (method is None or r.method == method)]

    @staticmethod
    def user(user_id: int, name: str | None = None) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name or f"member{user_id}",
            "discriminator": "0",
            "global_name": name or f"Member {user_id}",
            "avatar": None,
            "bot": False,
        }

    def member(
        self,
        user_id: int,
        roles: list[int] | None = None,
        permissions: int = MEMBER_PERMISSIONS,
    ) -> dict[str, Any]:
        return {
            "user": self.user(user_id),
            "roles": [str(r) for r in roles or []],
            "flags": 0,
            "permissions": str(permissions),
            "joined_at": "2024-01-01T00:00:00+00:00",
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "pending": False,
        }

    # --- interactions ---------------------------------------------------------------------------

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        guild: int,
        channel: int,
        user: int,
        roles: list[int] | None,
        permissions: int,
        message: StoredMessage | None = None,
    ) -> Interaction:
        await self.wait_ready()
        now = time.time()
        # discord.py reads a token's age from the interaction id: date the id so both agree on expiry.
        interaction_id = self.snowflake(now - (15 * 60 - self.token_lifetime))
        token = f"itok-{interaction_id}-{next(self._counter)}"
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "attachment_size_limit": self.attachment_limit,
            "guild_id": str(guild),
            "channel_id": str(channel),
            "channel": self._channel_payload(guild, channel),
            "member": self.member(user, roles, permissions),
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str((1 << 53) - 1),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild)},
            "context": 0,
        }
        if message is not None:
            payload["message"] = self._message_payload(message)
        record = Interaction(
            interaction_id,
            token,
            kind,
            guild,
            channel,
            user,
            time.monotonic(),
            time.monotonic() + self.token_lifetime,
            payload,
        )
        self.interactions[interaction_id] = record
        await self._dispatch("INTERACTION_CREATE", payload)
        return record

    async def _callback(self, request: web.Request) -> web.Response:
        record = self.interactions.get(int(request.match_info["iid"]))
        if record is None or record.token != request.match_info["token"]:
            return _error(404, 10062, "Unknown interaction")
        if record.acked_at is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created > self.ack_timeout:
            return _error(404, 10062, "Unknown interaction")
        body, files = await _read_body(request)
        await asyncio.sleep(self.callback_delay)
        if (too_big := self._too_big(files, self.attachment_limit)) is not None:
            return too_big
        kind = body.get("type")
        data = body.get("data") or {}
        record.acked_at = time.monotonic()
        record.response_type = kind
        message: StoredMessage | None = None
        if kind in (4, 5):
            flags = int(data.get("flags", 0)) | (LOADING if kind == 5 else 0)
            message = self._new_message(record.channel_id, record.guild_id, data, files, flags, record.id)
            record.original_id = message.id
        elif kind in (6, 7):
            record.original_id = int(record.payload["message"]["id"]) if "message" in record.payload else None
            if kind == 7 and record.original_id is not None:
                message = self._edit(self.messages[record.original_id], data, files)
        elif kind == 8:
            record.autocomplete = data.get("choices", [])
        elif kind == 9:
            record.modal = data
        interaction = {
            "id": str(record.id),
            "type": record.kind,
            "response_message_id": str(record.original_id) if record.original_id else None,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = self._message_payload(message)
        await self._notify()
        return _json({"interaction": interaction, "resource": resource})

    async def _followup(self, request: web.Request) -> web.Response:
        record, problem = self._by_token(request)
        if problem is not None:
            return problem
        assert record is not None
        body, files = await _read_body(request)
        if (too_big := self._too_big(files, self.attachment_limit)) is not None:
            return too_big
        original = self.original(record)
        if record.response_type == 5 and original is not None and original.flags & LOADING and not original.deleted:
            # Discord: the first follow-up of a deferred reply replaces its placeholder, as public or as
            # private as the deferral was, whatever flags the follow-up asks for.
            body = {**body, "flags": original.flags & EPHEMERAL}
            message = self._edit(original, body, files)
            message.flags &= ~LOADING
        else:
            message = self._new_message(
                record.channel_id, record.guild_id, body, files, int(body.get("flags", 0)), record.id
            )
            record.followups.append(message.id)
        await self._notify()
        return _json(self._message_payload(message))

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record, problem = self._by_token(request)
        if problem is not None:
            return problem
        assert record is not None
        mid = request.match_info["mid"]
        message_id = record.original_id if mid == "@original" else int(mid)
        message = self.messages.get(message_id) if message_id is not None else None
        if message is None or message.deleted:
            return _error(404, 10008, "Unknown Message")
        return await self._message_action(request, message)

    async def _channel_post(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["cid"])
        guild = self._guild_of(channel_id)
        if guild is None:
            return _error(404, 10003, "Unknown Channel")
        if channel_id in self.denied_channels:
            return _error(403, 50013, "Missing Permissions")
        body, files = await _read_body(request)
        if (too_big := self._too_big(files, self.attachment_limit)) is not None:
            return too_big
        message = self._new_message(channel_id, guild, body, files, int(body.get("flags", 0)) & ~EPHEMERAL, None)
        await self._notify()
        return _json(self._message_payload(message))

    async def _channel_message(self, request: web.Request) -> web.Response:
        message = self.messages.get(int(request.match_info["mid"]))
        if message is None or message.deleted or message.channel_id != int(request.match_info["cid"]):
            return _error(404, 10008, "Unknown Message")
        if request.method != "GET" and message.channel_id in self.denied_channels:
            return _error(403, 50013, "Missing Permissions")
        if request.method == "GET" and message.channel_id in self.unreadable_channels:
            return _error(403, 50001, "Missing Access")
        return await self._message_action(request, message)

    async def _message_action(self, request: web.Request, message: StoredMessage) -> web.Response:
        if request.method == "GET":
            return _json(self._message_payload(message))
        if request.method == "DELETE":
            message.deleted = True
            await self._notify()
            return web.Response(status=204)
        body, files = await _read_body(request)
        if (too_big := self._too_big(files, self.attachment_limit)) is not None:
            return too_big
        self._edit(message, body, files)
        message.flags &= ~LOADING
        await self._notify()
        return _json(self._message_payload(message))

    def _by_token(self, request: web.Request) -> tuple[Interaction | None, web.Response | None]:
        token = request.match_info["token"]
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None or request.match_info["app"] != str(self.application_id):
            return None, _error(404, 10015, "Unknown Webhook")
        if time.monotonic() > record.expires:
            return None, _error(401, 50027, "Invalid Webhook Token")
        return record, None

    # --- messages -------------------------------------------------------------------------------

    def _new_message(
        self,
        channel_id: int,
        guild_id: int | None,
        body: dict[str, Any],
        files: list[StoredFile],
        flags: int,
        interaction_id: int | None,
    ) -> StoredMessage:
        message = StoredMessage(
            id=self.snowflake(), channel_id=channel_id, guild_id=guild_id, flags=flags, interaction_id=interaction_id
        )
        self.messages[message.id] = message
        return self._edit(message, body, files, new=True)

    def _edit(
        self,
        message: StoredMessage,
        body: dict[str, Any],
        files: list[StoredFile],
        new: bool = False,
    ) -> StoredMessage:
        if "content" in body:
            message.content = body["content"] or ""
        if "embeds" in body:
            message.embeds = body["embeds"] or []
        if "components" in body:
            message.components = body["components"] or []
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body or files:
            keep = {int(a["id"]) for a in body.get("attachments") or [] if int(a["id"]) > 1000}
            if "attachments" in body:
                message.attachments = [(aid, f) for aid, f in message.attachments if aid in keep]
            message.attachments += [(self.snowflake(), stored) for stored in files]
        if not new:
            message.edits += 1
        return message

    def _message_payload(self, message: StoredMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "type": 0 if not message.interaction_id else 20,
            "content": message.content,
            "embeds": message.embeds,
            "components": message.components,
            "attachments": [
                {
                    "id": str(aid),
                    "filename": f.filename,
                    "size": len(f.data),
                    "content_type": f.content_type,
                    "url": f"{self.url}/attachments/{aid}/{f.filename}",
                    "proxy_url": f"{self.url}/attachments/{aid}/{f.filename}",
                }
                for aid, f in message.attachments
            ],
            "author": {**self.user(self.bot_user_id, "imagine-bot"), "bot": True},
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "flags": message.flags,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "tts": False,
        }
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        if message.interaction_id is not None:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
        return payload

    def _too_big(self, files: list[StoredFile], limit: int) -> web.Response | None:
        if any(len(f.data) > limit for f in files) or sum(len(f.data) for f in files) > 25 * 1024 * 1024:
            return _error(413, 40005, "Request entity too large")
        return None

    # --- the rest of REST -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/gateway":
            response: web.StreamResponse = await handler(request)
            return response
        body: Any = None
        files: list[StoredFile] = []
        if request.can_read_body:
            body, files = await _read_body(request)
        self.requests.append(
            Recorded(request.method, request.path, time.monotonic(), body, files, dict(request.headers))
        )
        recorded = self.requests[-1]
        for hook in self._hooks:
            matches = hook.left > 0 and hook.method == request.method and hook.pattern.search(request.path)
            if matches and (hook.when is None or hook.when(recorded)):
                hook.left -= 1
                hook.action(recorded)
        for held in self._holds:
            matches = held.left > 0 and held.method == request.method and held.pattern.search(request.path)
            if matches and (held.when is None or held.when(recorded)):
                held.left -= 1
                await held.released.wait()
        if (
            request.headers.get("Authorization") != f"Bot {self.token}"
            and "/webhooks/" not in request.path
            and "/interactions/" not in request.path
        ):
            return _error(401, 0, "401: Unauthorized")
        for failure in self._failures:
            if failure.left > 0 and failure.method == request.method and failure.pattern.search(request.path):
                failure.left -= 1
                if failure.status == 429:
                    limited = _json(
                        {"message": "You are being rate limited.", "retry_after": failure.retry_after, "global": False},
                        429,
                    )
                    limited.headers["Via"] = "1.1 google"  # discord.py retries a 429 only when it came through a proxy
                    limited.headers["Retry-After"] = str(failure.retry_after)
                    return limited
                return _error(failure.status, failure.code, f"Simulated {failure.status}")
        response = await handler(request)
        await self._notify()
        return response

    async def _gateway_bot(self, _: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": self.shards,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def _me(self, _: web.Request) -> web.Response:
        return _json(
            {
                **self.user(self.bot_user_id, "imagine-bot"),
                "bot": True,
                "verified": True,
                "flags": 0,
                "mfa_enabled": False,
            }
        )

    async def _application(self, _: web.Request) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": "imagine-bot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": self.user(1),
                "team": None,
                "summary": "",
            }
        )

    async def _get_commands(self, _: web.Request) -> web.Response:
        return _json(self.commands)

    async def _put_commands(self, request: web.Request) -> web.Response:
        self.command_puts += 1
        body = await request.json()
        self.commands = [
            {
                **command,
                "id": str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
            }
            for command in body
        ]
        return _json(self.commands)

    async def _channel(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["cid"])
        guild = self._guild_of(channel_id)
        if guild is None:
            return _error(404, 10003, "Unknown Channel")
        return _json(self._channel_payload(guild, channel_id))

    def _guild_of(self, channel_id: int) -> int | None:
        return next((guild for guild, channels in self.guilds.items() if channel_id in channels), None)

    def _channel_payload(self, guild: int, channel: int) -> dict[str, Any]:
        return {
            "id": str(channel),
            "type": 0,
            "guild_id": str(guild),
            "name": f"channel-{channel}",
            "position": 0,
            "permission_overwrites": [
                {"id": str(self.bot_user_id), "type": 1, "allow": "0", "deny": str(self.bot_denied[channel])}
            ]
            if channel in self.bot_denied
            else [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    @staticmethod
    def _bot_role(guild: int) -> int:
        return guild + 999  # the role Discord makes for a bot when it joins a server

    @staticmethod
    def _role_payload(guild: int, role: int) -> dict[str, Any]:
        everyone = role == guild
        return {
            "id": str(role),
            "name": "@everyone" if everyone else f"role-{role}",
            "permissions": str(MEMBER_PERMISSIONS if everyone else 0),
            "position": 0 if everyone else 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": not everyone,
            "flags": 0,
        }

    def _guild_payload(self, guild: int) -> dict[str, Any]:
        return {
            "id": str(guild),
            "name": f"server-{guild}",
            "owner_id": "1",
            "icon": None,
            "unavailable": False,
            "roles": [
                *(self._role_payload(guild, role) for role in [guild, *self.roles.get(guild, [])]),
                {
                    **self._role_payload(guild, self._bot_role(guild)),
                    "permissions": str(BOT_PERMISSIONS),
                    "managed": True,
                },
            ],
            "channels": [self._channel_payload(guild, channel) for channel in self.guilds[guild]],
            "members": [
                {
                    **self.member(self.bot_user_id, [self._bot_role(guild)]),
                    "user": {**self.user(self.bot_user_id, "imagine-bot"), "bot": True},
                }
            ],
            "member_count": 2,
            "features": [],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "large": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
        }

    # --- gateway --------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        try:
            await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41_250}})
            async for frame in socket:
                if frame.type is not WSMsgType.TEXT:
                    break
                message = json.loads(frame.data)
                op, data = message.get("op"), message.get("d")
                if op == 1:
                    await socket.send_json({"op": 11})
                elif op == 2:
                    if data.get("token") != self.token:
                        await socket.close(code=4004, message=b"Authentication failed.")
                        break
                    self.identifies += 1
                    shard = tuple(data.get("shard") or (0, 1))
                    self._shard_of[socket] = (int(shard[0]), int(shard[1]))
                    self.logins.append((asyncio.get_running_loop().time(), int(shard[0]), int(shard[1])))
                    await self._notify()
                    guilds = [g for g in self.guilds if self._on_shard(socket, g)]
                    await self._send(
                        socket,
                        "READY",
                        {
                            "v": 10,
                            "user": {**self.user(self.bot_user_id, "imagine-bot"), "bot": True},
                            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
                            "session_id": f"session-{next(self._counter)}",
                            "resume_gateway_url": self.gateway_url,
                            "shard": data.get("shard", [0, 1]),
                            "application": {"id": str(self.application_id), "flags": 0},
                            "private_channels": [],
                            "relationships": [],
                        },
                    )
                    for guild in guilds:
                        await self._send(socket, "GUILD_CREATE", self._guild_payload(guild))
                    self._ready.set()
                elif op == 6:
                    self.resumes += 1
                    await self._send(socket, "RESUMED", {})
                    self._ready.set()
        finally:
            self._sockets.remove(socket)
            self._shard_of.pop(socket, None)
        return socket

    def _on_shard(self, socket: web.WebSocketResponse, guild_id: int) -> bool:
        shard_id, count = self._shard_of.get(socket, (0, 1))
        return (guild_id >> 22) % count == shard_id

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to the sessions that receive it: a server's events go to its shard's only."""
        guild = data.get("guild_id")
        for socket in list(self._sockets):
            if guild is None or self._on_shard(socket, int(guild)):
                await self._send(socket, event, data)

    async def _send(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        await socket.send_json({"op": 0, "t": event, "s": self._seq, "d": data})

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


async def _read_body(request: web.Request) -> tuple[dict[str, Any], list[StoredFile]]:
    """A JSON body, or discord.py's multipart form: ``payload_json`` and ``files[n]``."""
    cached = request.get(_BODY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    body: dict[str, Any] = {}
    files: list[StoredFile] = []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            else:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files.append(StoredFile(part.filename or "file", bytes(data), content_type))
    elif request.can_read_body:
        text = await request.text()
        body = json.loads(text) if text else {}
    request[_BODY] = (body, files)
    return body, files


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py reads JSON only when the Content-Type is exactly application/json
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status)
