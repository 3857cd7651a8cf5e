"""End-to-end load: N members run /imagine at once against the bot as its own process.

    python bench/imagine_bench.py [--members 200] [--render-seconds 1.0]

The bot runs as `python -m bot` in a subprocess; this process hosts the Discord stand-in and the
Pixazo simulator. Prints one JSON line:
- ack_p50_ms / ack_p99_ms: INTERACTION_CREATE sent to the deferral received;
- cpu_ms_per_job: the bot process's CPU time (user + system) per job, start-up excluded;
- peak_rss_mb: the bot process's peak resident memory;
- pixazo_requests_per_job: every request the simulator saw, per job;
- delivery_lag_p50_ms: the simulator finishing a job to its image reaching the stand-in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.simulator import BASE_PATH, Simulator, SimulatorSettings  # noqa: E402
from tests.discord_standin import DiscordStandin  # noqa: E402

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.bench.discord-token"
GUILD, CHANNEL = 500_000_000_000_000_001, 600_000_000_000_000_001


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(members: int, render_seconds: float) -> dict[str, float]:
    simulator = Simulator(SimulatorSettings(render_seconds=render_seconds, concurrency=50))
    runner = web.AppRunner(simulator.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sim_url = f"http://127.0.0.1:{runner.addresses[0][1]}{BASE_PATH}"
    standin = DiscordStandin(token=TOKEN, guilds={GUILD: [CHANNEL]})
    await standin.start()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DISCORD_TOKEN": TOKEN,
            "PIXAZO_API_KEY": "bench",
            "PIXAZO_BASE_URL": sim_url,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "MAX_ACTIVE_JOBS": str(members),
            "POLL_MIN_SECONDS": "0.5",
            "POLL_MAX_SECONDS": "2",
            "LOG_LEVEL": "WARNING",
        }
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", env=env, cwd=ROOT)
        try:
            await standin.wait_ready(30)
            await asyncio.sleep(0.5)
            cpu_before = cpu_seconds(bot.pid)
            interactions = await asyncio.gather(
                *(
                    standin.command(
                        "imagine",
                        [{"name": "prompt", "type": 3, "value": f"a fox number {i}"}],
                        guild=GUILD,
                        channel=CHANNEL,
                        user=10_000 + i,
                    )
                    for i in range(members)
                )
            )
            await standin.wait_for(lambda: sum(1 for m in standin.messages.values() if m.files) >= members, timeout=300)
            cpu = cpu_seconds(bot.pid) - cpu_before
            rss = peak_rss_mb(bot.pid)
        finally:
            bot.terminate()
            await bot.wait()
    acks = sorted((i.acked_at - i.created) * 1000 for i in interactions if i.acked_at is not None)
    lags = []
    for message in standin.messages.values():
        if not message.files:
            continue
        delivered_at = next(
            r.at for r in standin.requests if r.files and any(f.data == message.files[0].data for f in r.files)
        )
        request_id = next(
            rid
            for rid in simulator.jobs
            if simulator.jobs[rid].images and simulator.jobs[rid].images[0] == message.files[0].data
        )
        lags.append((delivered_at - simulator.finished_at(request_id)) * 1000)
    await standin.close()
    await runner.cleanup()
    return {
        "members": members,
        "ack_p50_ms": round(statistics.median(acks), 1),
        "ack_p99_ms": round(acks[max(0, int(len(acks) * 0.99) - 1)], 1),
        "cpu_ms_per_job": round(cpu * 1000 / members, 1),
        "peak_rss_mb": round(rss, 1),
        "pixazo_requests_per_job": round(len(simulator.requests) / members, 2),
        "delivery_lag_p50_ms": round(statistics.median(lags), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--render-seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.members, args.render_seconds))))


if __name__ == "__main__":
    main()
