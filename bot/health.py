"""`python -m bot check`: is everything the bot needs in place? And the heartbeat the running bot writes.

The Pixazo key is checked without spending money: a result call for a request id that cannot
exist. 401/403 means the key is refused; any other answer means the key got through.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import socket
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Config, Secret
from bot.errors import PixazoAuthError, PixazoError, PixazoTransientError, StartupError
from bot.pixazo import PixazoClient, RetryPolicy
from bot.startup import DEFAULT_DATABASE_FOLDER, check_database_folder
from bot.storage import open_storage

HEARTBEAT_EVERY_SECONDS = 30.0
HEARTBEAT_STALE_SECONDS = 90.0
_CHECK_REQUEST_ID = "imagine-bot-key-check-00000000"


def heartbeat_path(config: Config) -> Path:
    """Beside the SQLite file; in the working folder's data/ when the database is a server."""
    folder = config.database_path.parent if config.database_path else DEFAULT_DATABASE_FOLDER
    return folder / "heartbeat.json"


def write_heartbeat(path: Path, **facts: object) -> None:
    """Record that the bot is alive, atomically (the check never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file of this write's own: processes sharing the folder must not move each other's.
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(json.dumps({"time": time.time(), "pid": os.getpid(), **facts}))
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    try:
        beat = json.loads(path.read_text())
        float(beat["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return beat if isinstance(beat, dict) else None


def discord_token_problem(token: Secret) -> str | None:
    """Why the token cannot be a bot token, or None if it looks like one. Never repeats the token."""
    parts = token.reveal().split(".")
    if len(parts) != 3 or not all(parts):
        return "a bot token has three parts separated by dots"
    try:
        user_id = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "the first part is not base64"
    return None if user_id.isdigit() else "the first part does not encode a user id"


async def check_pixazo_key(pixazo: PixazoClient) -> tuple[bool, str]:
    try:
        await pixazo.status(_CHECK_REQUEST_ID)
    except PixazoAuthError as exc:
        return False, f"refused: the key was refused (HTTP {exc.status}); check PIXAZO_API_KEY"
    except PixazoTransientError as exc:
        if exc.status is None:
            return False, f"unreachable: {exc}; check PIXAZO_BASE_URL and the network"
        return False, f"Pixazo answered HTTP {exc.status}: it may be having an outage; try again in a while"
    except PixazoError as exc:
        return True, f"accepted (a made-up request answered HTTP {exc.status or 'with a body'}; nothing spent)"
    return True, "accepted (nothing spent)"


async def check_discord_token(http: aiohttp.ClientSession, config: Config) -> tuple[bool, str]:
    """Ask Discord who the token belongs to (``GET /users/@me``): free, and it changes nothing."""
    problem = discord_token_problem(config.discord_token)
    if problem is not None:
        return False, f"malformed: {problem}"
    api = config.discord_api_base_url
    headers = {"Authorization": f"Bot {config.discord_token.reveal()}"}
    try:
        async with (
            asyncio.timeout(config.discord_login_timeout_seconds),
            http.get(f"{api}/users/@me", headers=headers) as response,
        ):
            if response.status == 401:
                return False, "refused (HTTP 401): reset the token in the developer portal and update DISCORD_TOKEN"
            if response.status != 200:
                return False, f"Discord's API answered HTTP {response.status} at {api}: check DISCORD_API_BASE_URL"
            me = await response.json(content_type=None)
    except TimeoutError:
        return False, f"unreachable: no answer within {config.discord_login_timeout_seconds:g} s from {api}"
    except aiohttp.ClientConnectorError as exc:
        reason = "no such host" if isinstance(exc.os_error, socket.gaierror) else exc.os_error.strerror or exc.os_error
        return False, f"unreachable: {exc.host}:{exc.port} ({reason}); check DISCORD_API_BASE_URL and the network"
    except (aiohttp.ClientError, ValueError) as exc:
        return False, f"unreachable: {api} ({type(exc).__name__}); check DISCORD_API_BASE_URL and the network"
    return True, f"accepted: logged in as {me.get('username', '?')} (id {me.get('id', '?')}); nothing changed"


async def run_checks(config: Config, *, health_only: bool = False) -> int:
    if health_only:
        beat = read_heartbeat(heartbeat_path(config))
        age = None if beat is None else time.time() - float(beat["time"])
        if age is None or age > HEARTBEAT_STALE_SECONDS:
            print("unhealthy: no recent heartbeat" if age is None else f"unhealthy: last heartbeat {age:.0f}s ago")
            return 1
        if beat is not None and beat.get("database") == "unreachable":
            print(f"unhealthy: the database is unreachable (last heartbeat {age:.0f}s ago); jobs wait for it")
            return 1
        print(f"healthy: last heartbeat {age:.0f}s ago")
        return 0
    rows: list[tuple[str, bool, str]] = [("settings", True, f"{len(Config.variables())} settings valid")]
    try:
        if config.database_path is not None:
            check_database_folder(config.database_path)
        async with open_storage(config.database_url) as storage:
            rows.append(("database", True, await storage.describe()))
    except StartupError as exc:
        rows.append(("database", False, str(exc)))
    except (OSError, sqlite3.Error) as exc:
        rows.append(("database", False, f"{config.database_shown}: {exc}"))
    async with aiohttp.ClientSession() as http:
        pixazo = PixazoClient(
            http,
            api_key=config.pixazo_api_key,
            base_url=config.pixazo_base_url,
            timeout=config.pixazo_timeout_seconds,
            retry=RetryPolicy(attempts=2, total_seconds=20),
        )
        rows.append(("pixazo key", *await check_pixazo_key(pixazo)))
        rows.append(("discord token", *await check_discord_token(http, config)))
    width = max(len(name) for name, _, _ in rows)
    for name, ok, detail in rows:
        print(f"{name:<{width}}  {'ok ' if ok else 'BAD'}  {detail}", flush=True)
    return 0 if all(ok for _, ok, _ in rows) else 1
