"""End-to-end load: N members run /imagine at once against the bot as its own process.

    python bench/imagine_bench.py [--members 200] [--concurrency 8] [--render-seconds 1.0]
                                  [--runs all|polling|backlog|webhook] [--backlog N] [--webhook]
                                  [--backend sqlite|postgres] [--url URL] [--processes 1]

The bot runs as `python -m bot` in a subprocess with its own defaults: the bench sets only what points it
at the stand-ins (DISCORD_TOKEN, PIXAZO_API_KEY, PIXAZO_BASE_URL, DISCORD_API_BASE_URL, DATABASE_URL in a
temporary folder, LOG_LEVEL=WARNING) and, for a webhook run, PIXAZO_WEBHOOK_URL, WEBHOOK_PORT and
WEBHOOK_SECRET; every other variable the bot reads is removed from the environment it inherits. This
process hosts the Discord stand-in and the Pixazo simulator (`--concurrency` renderers, `--render-seconds`
each). The backlog of other customers' jobs is queued at the simulator just before the members start; then
every member (distinct user, prompt "a fox number i", one channel of one server) runs /imagine at once,
and the bench waits until every member's result (a message with a file) has reached the stand-in, then
stops the bot with SIGTERM.

`--processes N` runs N bots on one database, each with one shard of N (SHARD_COUNT, SHARD_IDS), and puts
one server on each shard, its members taking turns between them, so every process takes its share of the
members. `--backend postgres` puts that database on a PostgreSQL server (`--url`, or TEST_POSTGRES_URL): a
scratch database is made for each run and dropped after it. CPU is the sum over the processes, memory the
largest of them.

By default three runs, one after another, each with a fresh bot, database, stand-in and simulator:
`polling` (backlog 0), `polling_backlog160` (160 other jobs ahead) and `webhook` (webhooks on, backlog 0).
`--runs`, `--backlog` or `--webhook` ask for one run instead. Each run prints one JSON line:
- run, members, backend, processes: the run's name, N, and where the bots kept their jobs;
- ack_p50_ms / ack_p99_ms: INTERACTION_CREATE sent to the deferral callback received
  (`acked_at - created` of each interaction in the stand-in);
- delivery_lag_p50_ms / delivery_lag_p99_ms: the simulator marking a job COMPLETED (its `finishes_at`) to
  the first request that carried that job's image bytes reaching the stand-in;
- dispatch_to_submit_p50_ms / dispatch_to_submit_p99_ms: the interaction dispatched to the bot to that
  member's first submit reaching the simulator (matched by the prompt in the submit's body);
- pixazo_requests_per_job: every request the simulator recorded, over N;
- discord_requests_per_job: every REST request the stand-in recorded from the moment the members started
  until the bot exited (gateway traffic excluded), over N;
- max_edits_per_message_5s: for each message, the most PATCH requests aimed at it within any 5-second
  window (`/webhooks/{app}/{token}/messages/{id|@original}` and `/channels/{cid}/messages/{mid}`); the
  largest over all messages;
- cpu_ms_per_job: the bot process's CPU time (user + system, from /proc) from just before the members
  start to the last result arriving, over N;
- peak_rss_mb: the bot process's peak resident memory (VmHWM) when the last result arrived;
- end_to_end_s: the first interaction dispatched to the last member's result reaching the stand-in;
- floor_s: how long the simulator itself needs to finish the backlog and the N jobs had all N been
  submitted at the very start (the same settings, scheduled on a stopped clock, without HTTP);
- end_to_end_over_floor: end_to_end_s / floor_s.
Percentiles are nearest-rank. A run that cannot be measured prints `{"run": ..., "error": ...}` instead:
the bot refused its settings or exited, the results did not all arrive within `--timeout`, or (for the
webhook run) the bot never passed a webhook URL to Pixazo (its figures then go to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ledger_bench import database  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.simulator import BASE_PATH, Endpoint, Simulator, SimulatorSettings  # noqa: E402
from tests.discord_standin import DiscordStandin, Interaction  # noqa: E402

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.bench.discord-token"
GUILD, CHANNEL = 500_000_000_000_000_001, 600_000_000_000_000_001  # the first server; one more per process
FIRST_USER = 10_000
DEFAULT_BACKLOG_RUN = 160
EDIT_WINDOW_SECONDS = 5.0
WEBHOOK_VARIABLES = ("PIXAZO_WEBHOOK_URL", "WEBHOOK_PORT", "WEBHOOK_SECRET")
PROMPT = re.compile(r"\ba fox number (\d+)\b")
WEBHOOK_EDIT = re.compile(r"/webhooks/\d+/([^/]+)/messages/([^/]+)$")
CHANNEL_EDIT = re.compile(r"/channels/\d+/messages/(\d+)$")
START_SECONDS = 60  # a few processes log in 5 s apart (Discord's pace for one identify bucket)

Figures = dict[str, str | int | float | None]


@dataclass(frozen=True, slots=True)
class Load:
    members: int
    concurrency: int
    render_seconds: float
    timeout: float
    backend: str = "sqlite"
    server_url: str | None = None  # a PostgreSQL server, for --backend postgres
    processes: int = 1


@dataclass(frozen=True, slots=True)
class RunSpec:
    backlog: int
    webhook: bool

    @property
    def name(self) -> str:
        mode = "webhook" if self.webhook else "polling"
        return f"{mode}_backlog{self.backlog}" if self.backlog else mode


class RunFailed(Exception):
    """The run could not be measured; the message says why."""


@dataclass(slots=True)
class Measured:
    """What a run leaves behind for the figures."""

    simulator: Simulator
    standin: DiscordStandin
    interactions: list[Interaction]
    first_request: int  # index into standin.requests when the members started
    cpu_seconds: float
    peak_rss_mb: float


# --- the bot process --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bot_env(
    sim_url: str, standin: DiscordStandin, database_url: str, webhook_port: int | None, shard: tuple[int, int]
) -> dict[str, str]:
    """The inherited environment without anything the bot reads, plus what points it at the stand-ins."""
    ours = {*Config.variables(), *WEBHOOK_VARIABLES}
    env = {name: value for name, value in os.environ.items() if name not in ours}
    env |= {
        "DISCORD_TOKEN": TOKEN,
        "PIXAZO_API_KEY": "bench",
        "PIXAZO_BASE_URL": sim_url,
        "DISCORD_API_BASE_URL": standin.api_base,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    shard_id, shard_count = shard
    if shard_count > 1:
        env |= {"SHARD_COUNT": str(shard_count), "SHARD_IDS": str(shard_id)}
    if webhook_port is not None:
        env |= {
            "PIXAZO_WEBHOOK_URL": f"http://127.0.0.1:{webhook_port}",
            "WEBHOOK_PORT": str(webhook_port),
            "WEBHOOK_SECRET": secrets.token_hex(16),  # 32 characters
        }
    return env


class BotProcess:
    """`python -m bot` with its stderr relayed to ours (its last lines kept) and its stdout sent there too."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.tail: deque[str] = deque(maxlen=20)
        self._relay = asyncio.create_task(self._relay_stderr())
        self._exited = asyncio.create_task(process.wait())

    @classmethod
    async def start(cls, env: Mapping[str, str]) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=ROOT, stdout=sys.stderr, stderr=asyncio.subprocess.PIPE
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    @staticmethod
    async def alongside(bots: list[BotProcess], work: Awaitable[None], what: str) -> None:
        """Await `work`, failing the run if a bot exits first."""
        task = asyncio.ensure_future(work)
        exits = {bot._exited: bot for bot in bots}
        done, _ = await asyncio.wait({task, *exits}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            return
        task.cancel()
        bot = next(exits[exited] for exited in done if exited in exits)
        await bot._relay
        last = next((line for line in reversed(bot.tail) if line.strip()), "no output")
        raise RunFailed(f"a bot exited with code {bot.process.returncode} {what}: {last.strip()}")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), 30)
            except TimeoutError:
                self.process.kill()
        await self._exited
        await self._relay

    async def _relay_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace")
            self.tail.append(line)
            sys.stderr.write(line)


# --- one run ------------------------------------------------------------------------------------------


def simulator_settings(load: Load, spec: RunSpec) -> SimulatorSettings:
    settings = SimulatorSettings(render_seconds=load.render_seconds, concurrency=load.concurrency)
    if "webhooks" in {f.name for f in dataclasses.fields(SimulatorSettings)}:
        settings = dataclasses.replace(settings, webhooks=spec.webhook)  # type: ignore[call-arg, unused-ignore]
    return settings


def results(standin: DiscordStandin) -> int:
    return sum(1 for message in standin.messages.values() if message.files)


def servers(processes: int) -> dict[int, int]:
    """One server (and its channel) per shard: Discord puts a server on shard (id >> 22) % the shard count."""
    by_shard: dict[int, int] = {}
    candidate = GUILD
    while len(by_shard) < processes:
        by_shard.setdefault((candidate >> 22) % processes, candidate)
        candidate += 1 << 22
    return {by_shard[shard]: CHANNEL + shard for shard in range(processes)}


async def measure(
    load: Load, spec: RunSpec, simulator: Simulator, standin: DiscordStandin, sim_url: str, guilds: dict[int, int]
) -> Measured:
    places = list(guilds.items())
    async with database(load.backend, load.server_url) as database_url:
        bots: list[BotProcess] = []
        try:
            for shard in range(load.processes):
                webhook_port = free_port() if spec.webhook else None
                env = bot_env(sim_url, standin, database_url, webhook_port, (shard, load.processes))
                bots.append(await BotProcess.start(env))
            logged_in = standin.wait_for(lambda: len(standin.logins) >= load.processes, START_SECONDS)
            await BotProcess.alongside(bots, logged_in, "before it was ready")
            await BotProcess.alongside(bots, standin.wait_ready(30), "before it was ready")
            await asyncio.sleep(0.5)  # let start-up requests settle
            simulator.add_backlog(spec.backlog)
            first_request = len(standin.requests)
            cpu_before = [cpu_seconds(bot.pid) for bot in bots]
            interactions = await asyncio.gather(
                *(
                    standin.command(
                        "imagine",
                        [{"name": "prompt", "type": 3, "value": f"a fox number {i}"}],
                        guild=places[i % len(places)][0],
                        channel=places[i % len(places)][1],
                        user=FIRST_USER + i,
                    )
                    for i in range(load.members)
                )
            )
            arrived = standin.wait_for(lambda: results(standin) >= load.members, timeout=load.timeout)
            try:
                await BotProcess.alongside(bots, arrived, "before every result arrived")
            except TimeoutError:
                raise RunFailed(
                    f"{results(standin)} of {load.members} results arrived within {load.timeout:g} s"
                ) from None
            cpu = sum(cpu_seconds(bot.pid) - before for bot, before in zip(bots, cpu_before, strict=True))
            rss = max(peak_rss_mb(bot.pid) for bot in bots)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
    return Measured(simulator, standin, list(interactions), first_request, cpu, rss)


async def run(load: Load, spec: RunSpec) -> Figures:
    settings = simulator_settings(load, spec)
    simulator = Simulator(settings)
    runner = web.AppRunner(simulator.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sim_url = f"http://127.0.0.1:{runner.addresses[0][1]}{BASE_PATH}"
    guilds = servers(load.processes)
    standin = DiscordStandin(
        token=TOKEN, guilds={guild: [channel] for guild, channel in guilds.items()}, shards=load.processes
    )
    await standin.start()
    try:
        measured = await measure(load, spec, simulator, standin, sim_url, guilds)
    except RunFailed as exc:
        return {"run": spec.name, "error": str(exc)}
    finally:
        await standin.close()
        await runner.cleanup()
    result = figures(measured, load, spec, floor_seconds(settings, spec.backlog, load.members))
    if spec.webhook and not any(carries_webhook_url(r.headers) for r in simulator.requests):
        print(json.dumps(result), file=sys.stderr)
        return {"run": spec.name, "error": "the bot ignored PIXAZO_WEBHOOK_URL: no submit carried X-Webhook-URL"}
    return result


def carries_webhook_url(headers: Mapping[str, str]) -> bool:
    return any(name.lower() == "x-webhook-url" for name in headers)


# --- the figures --------------------------------------------------------------------------------------


def floor_seconds(settings: SimulatorSettings, backlog: int, members: int) -> float:
    """The simulator's own finishing time: the backlog and every job queued at once, on a stopped clock."""
    stopped = Simulator(settings, clock=lambda: 0.0)
    stopped.add_backlog(backlog)
    last = 0.0
    for _ in range(members):
        _, finish = stopped._schedule(None)  # how a submit queues its job, without HTTP
        last = max(last, finish)
    return last


def percentile(values: Iterable[float], p: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def member_of(prompt: Any) -> int | None:
    match = PROMPT.search(prompt) if isinstance(prompt, str) else None
    return int(match.group(1)) if match else None


def most_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most


def max_edits_per_message(measured: Measured, window: float) -> int:
    by_token = {i.token: i for i in measured.standin.interactions.values()}
    edits: defaultdict[int, list[float]] = defaultdict(list)
    for request in measured.standin.requests[measured.first_request :]:
        if request.method != "PATCH":
            continue
        message_id: int | None = None
        if hook := WEBHOOK_EDIT.search(request.path):
            token, mid = hook.groups()
            interaction = by_token.get(token)
            message_id = (interaction.original_id if interaction else None) if mid == "@original" else int(mid)
        elif channel := CHANNEL_EDIT.search(request.path):
            message_id = int(channel.group(1))
        if message_id is not None:
            edits[message_id].append(request.at)
    return max((most_in_window(times, window) for times in edits.values()), default=0)


def figures(measured: Measured, load: Load, spec: RunSpec, floor: float) -> Figures:
    simulator, standin, n = measured.simulator, measured.standin, load.members
    dispatched = {i.user_id - FIRST_USER: i.created for i in measured.interactions}  # member -> when
    acks = [(i.acked_at - i.created) * 1000 for i in measured.interactions if i.acked_at is not None]

    first_submit: dict[int, float] = {}
    for submit in simulator.requests:
        if submit.endpoint == Endpoint.SUBMIT and isinstance(submit.body, dict):
            member = member_of(submit.body.get("prompt"))
            if member is not None:
                first_submit.setdefault(member, submit.at)
    to_submit = [(at - dispatched[m]) * 1000 for m, at in first_submit.items() if m in dispatched]

    window = standin.requests[measured.first_request :]
    first_seen: dict[bytes, float] = {}
    for request in window:
        for stored in request.files:
            first_seen.setdefault(stored.data, request.at)
    lags: list[float] = []
    delivered: dict[int, float] = {}  # member -> when their first image reached the stand-in
    for job in simulator.jobs.values():
        at = first_seen.get(job.images[0]) if job.images else None
        member = member_of(job.prompt)
        if at is None or member is None:
            continue
        lags.append((at - job.finishes_at) * 1000)
        delivered[member] = min(at, delivered.get(member, at))
    end_to_end = max(delivered.values()) - min(dispatched.values()) if delivered else float("nan")
    discord_requests = [r for r in window if not r.path.endswith(("/gateway", "/gateway/bot"))]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "run": spec.name,
        "members": n,
        "backend": load.backend,
        "processes": load.processes,
        "ack_p50_ms": ms(percentile(acks, 50)),
        "ack_p99_ms": ms(percentile(acks, 99)),
        "delivery_lag_p50_ms": ms(percentile(lags, 50)),
        "delivery_lag_p99_ms": ms(percentile(lags, 99)),
        "dispatch_to_submit_p50_ms": ms(percentile(to_submit, 50)),
        "dispatch_to_submit_p99_ms": ms(percentile(to_submit, 99)),
        "pixazo_requests_per_job": round(len(simulator.requests) / n, 2),
        "discord_requests_per_job": round(len(discord_requests) / n, 2),
        "max_edits_per_message_5s": max_edits_per_message(measured, EDIT_WINDOW_SECONDS),
        "cpu_ms_per_job": round(measured.cpu_seconds * 1000 / n, 1),
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "end_to_end_s": round(end_to_end, 2),
        "floor_s": round(floor, 2),
        "end_to_end_over_floor": round(end_to_end / floor, 2) if floor > 0 else None,
    }


# --- command line -------------------------------------------------------------------------------------


def runs_asked(args: argparse.Namespace) -> list[RunSpec]:
    if args.runs is None and (args.backlog is not None or args.webhook):
        return [RunSpec(backlog=args.backlog or 0, webhook=args.webhook)]
    if args.runs == "polling":
        return [RunSpec(backlog=args.backlog or 0, webhook=False)]
    if args.runs == "backlog":
        return [RunSpec(backlog=DEFAULT_BACKLOG_RUN if args.backlog is None else args.backlog, webhook=False)]
    if args.runs == "webhook":
        return [RunSpec(backlog=args.backlog or 0, webhook=True)]
    return [RunSpec(0, False), RunSpec(DEFAULT_BACKLOG_RUN, False), RunSpec(0, True)]


async def run_all(load: Load, specs: list[RunSpec]) -> None:
    # A SIGTERM (or SIGINT) cancels the runs, so each stops its bots on the way out: killed outright, the bench
    # left them running, and a later run shared the machine with a bot whose stand-ins had gone.
    main = asyncio.current_task()
    assert main is not None
    for stop in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(stop, main.cancel)
    for spec in specs:
        started = time.monotonic()
        result = await run(load, spec)
        print(json.dumps(result), flush=True)
        print(f"imagine_bench: {spec.name} took {time.monotonic() - started:.1f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200, help="members running /imagine at once")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs the simulator renders at once")
    parser.add_argument("--render-seconds", type=float, default=1.0, help="how long the simulator renders a job")
    parser.add_argument("--backlog", type=int, default=None, help="other customers' jobs queued ahead (default 0)")
    parser.add_argument("--webhook", action="store_true", help="give the bot a webhook URL for Pixazo to call")
    parser.add_argument(
        "--runs",
        choices=["all", "polling", "backlog", "webhook"],
        default=None,
        help=f"all (the default): polling, polling with {DEFAULT_BACKLOG_RUN} jobs ahead, webhook; or just one",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for every result")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite", help="where the bots keep jobs")
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL"), help="a PostgreSQL server")
    parser.add_argument("--processes", type=int, default=1, help="bots on one database, a shard each")
    args = parser.parse_args()
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.backend == "postgres" and not args.url:
        parser.error("--backend postgres needs --url (or TEST_POSTGRES_URL): a server for a scratch database")
    load = Load(
        args.members, args.concurrency, args.render_seconds, args.timeout, args.backend, args.url, args.processes
    )
    try:
        asyncio.run(run_all(load, runs_asked(args)))
    except asyncio.CancelledError:
        sys.exit("imagine_bench: stopped, and its bots with it")


if __name__ == "__main__":
    main()
