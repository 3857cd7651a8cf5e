"""The composition root and command line: ``python -m bot [run|simulate|imagine|check|sync|migrate-db]``.

Resources (the HTTP session, the database, the Pixazo client) are built here, inside ``async with``
blocks that close them, and handed to the objects that use them. Nothing else reads the
environment or keeps a global.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import discord
from dotenv import load_dotenv

from bot.config import IMAGE_SIZE_NAMES, Config
from bot.errors import BotError, ConfigError, StartupError
from bot.logs import JsonFormatter, RedactSecrets
from bot.pixazo.wire import MAX_IMAGES
from bot.services import open_services
from bot.simulator.cli import add_arguments as add_simulator_arguments
from bot.startup import check_database_folder, port_problem
from bot.webhooks import serve_webhooks, webhook_app

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "sync" and args.clear and args.guild is None:
        parser.error("sync --clear needs --guild ID: only a server's copy of the commands can be removed")
    try:
        return _command(args.command or "run", args)
    except StartupError as exc:
        print(f"imagine-bot: {exc}", file=sys.stderr)
        return 1


def _command(command: str, args: argparse.Namespace) -> int:
    if command == "simulate":
        return _simulate(args)
    load_dotenv(".env")
    try:
        config = Config.from_env(os.environ, discord=command not in ("imagine", "migrate-db"))
    except ConfigError as exc:
        print(f"imagine-bot: {exc}", file=sys.stderr)
        return 2
    if command == "check":
        from bot.health import run_checks

        logging.basicConfig(level=logging.ERROR)  # what the checks meet (a retry's reason) is in their table
        return asyncio.run(run_checks(config, health_only=args.health))
    if command == "migrate-db":
        return asyncio.run(_migrate_db(config, args.to))
    if command == "imagine" and not os.environ.get("LOG_LEVEL", "").strip():
        config = dataclasses.replace(config, log_level="WARNING")  # the progress line is what matters there
    if config.database_path is not None:
        check_database_folder(config.database_path)
    setup_logging(config)
    try:
        if command == "imagine":
            return asyncio.run(_imagine(config, args))
        if command == "sync":
            return asyncio.run(_sync(config, args.guild, clear=args.clear))
        return asyncio.run(_run(config))
    except KeyboardInterrupt:
        return 130


def setup_logging(config: Config) -> None:
    if config.log_format == "json":
        stream = logging.StreamHandler()
        stream.setFormatter(JsonFormatter())
        logging.basicConfig(level=config.log_level, handlers=[stream], force=True)
    else:
        discord.utils.setup_logging(level=logging.getLevelNamesMapping()[config.log_level], root=True)
    secrets = RedactSecrets(
        [config.discord_token.reveal(), config.pixazo_api_key.reveal()]
        + ([config.webhook_secret.reveal()] if config.webhook_secret else [])
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(secrets)


async def _run(config: Config) -> int:
    from bot.bot import ImagineBot

    async with open_services(config, serve_metrics=True) as services:
        bot = ImagineBot(config=config, services=services)
        loop = asyncio.get_running_loop()
        closing: set[asyncio.Task[None]] = set()

        def stop(signal_name: str) -> None:
            log.info("%s received: finishing database writes and closing", signal_name)
            closing.add(loop.create_task(bot.close()))

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum.name)
        async with contextlib.AsyncExitStack() as cleanup, bot:
            if services.webhooks is not None and config.webhook_port is not None:
                endpoint = await serve_webhooks(
                    webhook_app(services.webhooks, services.wakes.wake), config.webhook_port
                )
                cleanup.push_async_callback(endpoint.cleanup)
            try:
                await bot.start(config.discord_token.reveal())
            except StartupError:
                if not bot.is_closed():
                    raise
                # A stop during the login: the login failed because the stop closed its connection.
            except discord.PrivilegedIntentsRequired:
                raise StartupError(
                    "Discord refused a privileged intent; imagine-bot needs none, so check the shard set-up."
                ) from None
    log.info("stopped cleanly; unfinished jobs carry on in another process or at the next start")
    return 0


async def _sync(config: Config, guild_id: int | None, *, clear: bool) -> int:
    from bot.bot import ImagineBot

    async with open_services(config) as services:
        bot = ImagineBot(config=config, services=services, serve=False)
        async with bot:
            await bot.login(config.discord_token.reveal())
            try:
                if clear and guild_id is not None:
                    await bot.clear_server_commands(guild_id)
                    print(f"Removed the slash commands of server {guild_id}; the global ones stay.")
                    return 0
                count = await bot.sync_commands(guild_id)
            except discord.HTTPException as exc:
                where = f"in server {guild_id}" if guild_id else "globally"
                raise StartupError(
                    f"Discord refused to register the commands {where} (HTTP {exc.status}: {exc.text or exc}); "
                    "check that the bot was invited to that server with the applications.commands scope."
                ) from None
    where = f"server {guild_id} (at once)" if guild_id else "every server (Discord may take up to an hour)"
    print(f"Registered {count} slash commands for {where}.")
    return 0


async def _imagine(config: Config, args: argparse.Namespace) -> int:
    from bot.models import Delivery, JobOrigin, JobRequest, JobState
    from bot.prompts import check_options, clean_prompt
    from bot.terminal import TerminalSink, check_writable, plain

    output = Path(args.output)
    sink = TerminalSink(output)
    for handler in logging.getLogger().handlers:
        handler.addFilter(sink.make_room)
    try:
        check_writable(output)
        request = JobRequest(
            guild_id=0,  # the operator's own use is counted like a server's, against the global budget
            channel_id=0,
            member_id=0,
            prompt=clean_prompt(args.prompt),
            size=args.size,
            image_size=check_options(args.size, args.seed, args.count, config.image_sizes),
            count=args.count,
            seed=args.seed,
            output_format=config.pixazo_output_format,
        )
    except BotError as exc:
        print(plain(str(exc)), file=sys.stderr)
        return 1
    async with open_services(config) as services:
        runner = services.runner(sink, JobOrigin.TERMINAL)
        await runner.settle_abandoned()  # an earlier run that was stopped before it finished
        try:
            job = await runner.submit(request, Delivery())
            sink.job_id = job.id
            done = await runner.wait(job.id)
        except BotError as exc:
            print(plain(str(exc)), file=sys.stderr)
            return 1
        finally:
            await runner.close()
            await runner.settle_abandoned()  # Ctrl-C: what this run leaves unfinished is settled now
    return 0 if done.state is JobState.DELIVERED else 1


def _simulate(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.simulator import Simulator
    from bot.simulator.cli import settings_from

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s")
    simulator = Simulator(settings_from(args))
    print(f"Pixazo simulator: PIXAZO_BASE_URL=http://{args.host}:{args.port}/z-image-turbo-834/v1", flush=True)
    try:
        web.run_app(simulator.app, host=args.host, port=args.port, print=None)
    except OSError as exc:
        raise port_problem("--port", args.port, exc) from None
    return 0


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return text
        if "default" in text:
            return text
        return super()._get_help_string(action)


async def _migrate_db(config: Config, target_url: str) -> int:
    from bot.storage.transfer import migrate_db
    from bot.storage.urls import shown

    if config.database_path is None:
        raise StartupError("migrate-db copies a SQLite database: set DATABASE_URL to the file to copy, --to the target")
    copied = await migrate_db(config.database_path, target_url)
    width = max(len(table) for table in copied.rows)
    for table, rows in copied.rows.items():
        print(f"{table:<{width}}  {rows:>9,} rows")
    print(
        f"copied {sum(copied.rows.values()):,} rows from {config.database_path} to {shown(target_url)}; "
        f"{copied.totals:,} daily totals and {copied.charged} charged match. Point DATABASE_URL at it to use it."
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagine-bot",
        description="A Discord image bot on Pixazo Z-Image-Turbo. Every command reads its settings from the "
        "environment and from .env in the working folder.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")

    def command(name: str, summary: str, description: str | None = None) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, description=description or summary, formatter_class=_HelpWithDefaults
        )

    command("run", "run the bot (the default); SIGTERM or Ctrl-C stop it cleanly")

    check = command("check", "check the settings, the database, the Pixazo key and the Discord token; spends nothing")
    check.add_argument("--health", action="store_true", help="only check that the running bot is alive (its heartbeat)")

    sync = command(
        "sync",
        "register the slash commands with Discord now",
        "Register the slash commands with Discord now (the bot also does it by itself when they change).",
    )
    sync.add_argument("--guild", type=int, metavar="ID", help="only in this server, at once (default: every server)")
    sync.add_argument(
        "--clear",
        action="store_true",
        help="with --guild: remove that server's copy instead, once the global commands have arrived there",
    )

    imagine = command(
        "imagine",
        "generate an image from the terminal, with progress",
        "Generate an image from the terminal, with progress; it is charged to the operator's global budget.",
    )
    imagine.add_argument("prompt", help="what to draw")
    imagine.add_argument("-o", "--output", default="out.png", help="where to save it (more images get -2, -3…)")
    imagine.add_argument("--size", default="square", choices=IMAGE_SIZE_NAMES, help="the shape (IMAGE_SIZES)")
    imagine.add_argument("--seed", type=int, help="the same seed and prompt give the same image (default: random)")
    imagine.add_argument(
        "--count", type=int, default=1, choices=range(1, MAX_IMAGES + 1), metavar="N", help="how many images, 1 to 4"
    )

    migrate = command(
        "migrate-db",
        "copy the SQLite database (DATABASE_URL) into an empty PostgreSQL database, and check the totals",
        "Copy every table of the SQLite database that DATABASE_URL names into an empty PostgreSQL database, in "
        "one transaction, and check that the row counts, the daily totals and the money charged match; "
        "nothing is written if they do not. Stop the bot first.",
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="the target: postgresql://user:password@host/db")

    simulate = command(
        "simulate",
        "serve the Pixazo simulator for local use",
        "Serve a Pixazo stand-in: a real-time queue, PNG images, the safety check, and faults to rehearse an outage.",
    )
    add_simulator_arguments(simulate)
    return parser


if __name__ == "__main__":
    sys.exit(main())
