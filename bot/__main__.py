"""The composition root and command line: ``python -m bot [run|simulate|imagine|check|sync]``.

Resources (the HTTP session, the database, the Pixazo client) are built here and handed to the
objects that use them; nothing else reads the environment or owns a global.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from bot.config import Config
from bot.errors import ConfigError

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "simulate":
        return _simulate(args)
    load_dotenv(".env")
    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        print(f"imagine-bot: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s")
    print(
        "imagine-bot: configuration is valid; the Discord bot arrives with the /imagine work.",
        file=sys.stderr,
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.simulator import ResultForm, Simulator, SimulatorSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s")
    settings = SimulatorSettings(
        api_key=args.api_key,
        result_form=ResultForm(args.result_form),
        render_seconds=args.render_seconds,
        concurrency=args.concurrency,
        queue_depth=args.queue_depth,
        blocked_words=tuple(args.blocked_word) or SimulatorSettings().blocked_words,
    )
    simulator = Simulator(settings)
    print(f"Pixazo simulator: PIXAZO_BASE_URL=http://{args.host}:{args.port}/z-image-turbo-834/v1", flush=True)
    web.run_app(simulator.app, host=args.host, port=args.port, print=None)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagine-bot", description="A Discord image bot on Pixazo Z-Image-Turbo.")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("run", help="run the bot (the default)")

    simulate = commands.add_parser("simulate", help="serve the Pixazo simulator for local use")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8642)
    simulate.add_argument("--render-seconds", type=float, default=1.0, help="how long each job renders")
    simulate.add_argument("--concurrency", type=int, default=1, help="how many jobs render at once")
    simulate.add_argument("--queue-depth", type=int, default=0, help="other customers' jobs queued at start")
    simulate.add_argument(
        "--result-form",
        choices=["seed", "polling"],
        default="seed",
        help="seed: POST …-request-result; polling: 202 with a polling_url",
    )
    simulate.add_argument(
        "--blocked-word", action="append", default=[], help="a word that fails the safety check (repeatable)"
    )
    simulate.add_argument("--api-key", default=None, help="the only key accepted (default: any non-empty key)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
