"""What an operator runs: the Docker image's install steps, `check`, `sync`, JSON logs and metrics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.health import read_heartbeat, write_heartbeat
from bot.metrics import PrometheusMetrics
from bot.simulator import BASE_PATH, Endpoint, Fault, FaultKind, Simulator, SimulatorSettings
from tests.conftest import TEST_KEY, Serve
from tests.discord_standin import DiscordStandin
from tests.harness import DISCORD_TOKEN, GUILD

ROOT = Path(__file__).resolve().parent.parent


def run_bot(*args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_env(tmp_path: Path, sim_url: str = "http://127.0.0.1:9/v1") -> dict[str, str]:
    return {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "PIXAZO_API_KEY": TEST_KEY,
        "PIXAZO_BASE_URL": sim_url,
        "DATABASE_URL": "sqlite:///data/imagine.db",  # the default, in the working folder the test gives
        "LOG_LEVEL": "INFO",
    }


# --- the Docker image ---------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_the_dockerfile_keeps_to_the_house_rules() -> None:
    instructions = dockerfile_instructions()
    values = {keyword: rest for keyword, rest in instructions}
    assert re.fullmatch(r"python:3\.1[1-9]-slim", values["FROM"])
    assert values["USER"] == "imagine"
    assert json.loads(values["VOLUME"]) == ["/data"]
    assert values["HEALTHCHECK"].endswith('CMD ["python", "-m", "bot", "check", "--health"]')
    assert json.loads(values["CMD"]) == ["imagine-bot"]
    assert "DATABASE_URL=sqlite:////data/imagine.db" in values["ENV"]
    installs = [rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest]
    assert installs and all("test" not in install for install in installs)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "data/", "**/__pycache__/"} <= set(ignored)


@pytest.mark.install
def test_the_dockerfile_install_steps_work_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY":
            *sources, target = rest.split()
            for source in sources:
                destination = app / target / Path(source).name if target.endswith("/") else app / target
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / source, destination)
        if keyword == "RUN" and "pip install" in rest:
            command = shlex.split(rest)
            command[0] = str(venv / "bin" / "pip")
            subprocess.run([*command, "--quiet"], cwd=app, check=True, timeout=540)
    console = subprocess.run([str(venv / "bin" / "imagine-bot"), "--help"], capture_output=True, text=True, check=False)
    assert console.returncode == 0 and "simulate" in console.stdout
    health = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "bot", "check", "--health"],
        cwd=tmp_path,
        env={**os.environ, **base_env(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert health.returncode == 1 and "unhealthy" in health.stdout
    no_tests = subprocess.run([str(venv / "bin" / "python"), "-c", "import pytest"], capture_output=True, check=False)
    assert no_tests.returncode != 0  # test dependencies stay out of the image
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import prometheus_client"], check=False).returncode == 0


# --- check, sync, logs ----------------------------------------------------------------------------


async def test_check_reports_a_good_setup_and_spends_nothing(tmp_path: Path, serve: Serve) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY))
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    await standin.start()
    env = base_env(tmp_path, await serve(simulator.app) + BASE_PATH) | {"DISCORD_API_BASE_URL": standin.api_base}
    try:
        result = await asyncio.to_thread(run_bot, "check", env=env, cwd=tmp_path)
    finally:
        await standin.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"pixazo key\s+ok", result.stdout) and re.search(r"database\s+ok", result.stdout)
    assert simulator.count(Endpoint.SUBMIT) == 0 and TEST_KEY not in result.stdout + result.stderr


async def test_check_names_a_bad_key_and_a_malformed_token(tmp_path: Path, serve: Serve) -> None:
    simulator = Simulator(SimulatorSettings(api_key="the-right-key"))
    env = base_env(tmp_path, await serve(simulator.app) + BASE_PATH) | {"DISCORD_TOKEN": "not-a-token"}
    result = await asyncio.to_thread(run_bot, "check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert re.search(r"pixazo key\s+BAD\s+refused: the key was refused \(HTTP 401\)", result.stdout)
    assert re.search(r"discord token\s+BAD", result.stdout) and "not-a-token" not in result.stdout


def test_check_health_reads_only_the_heartbeat(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    assert run_bot("check", "--health", env=env, cwd=tmp_path).returncode == 1
    (tmp_path / "data").mkdir()
    write_heartbeat(tmp_path / "data" / "heartbeat.json", ready=True)
    healthy = run_bot("check", "--health", env=env, cwd=tmp_path)
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy")
    write_heartbeat(tmp_path / "data" / "heartbeat.json", ready=True, database="unreachable")
    waiting = run_bot("check", "--health", env=env, cwd=tmp_path)
    assert waiting.returncode == 1 and "the database is unreachable" in waiting.stdout


def test_two_bots_writing_one_heartbeat_at_once_never_fail(tmp_path: Path) -> None:
    """Seen in the benchmark of two processes in one folder: one's rename found the other's temporary file
    already moved, and its heartbeat failed."""
    path = tmp_path / "data" / "heartbeat.json"

    def beat(times: int) -> None:
        for _ in range(times):
            write_heartbeat(path, ready=True)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for writer in [pool.submit(beat, 2_000) for _ in range(2)]:
            writer.result()
    assert read_heartbeat(path) is not None
    assert [p.name for p in path.parent.iterdir()] == ["heartbeat.json"]  # no temporary file left behind


def test_a_bad_setting_stops_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = run_bot(env={"DISCORD_TOKEN": "", "PIXAZO_API_KEY": "", "PRICE_PER_IMAGE_USD": "free"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "DISCORD_TOKEN" in result.stderr and "PRICE_PER_IMAGE_USD" in result.stderr


async def test_sync_registers_the_commands_in_one_server(tmp_path: Path) -> None:
    standin = DiscordStandin(token=DISCORD_TOKEN, guilds={GUILD: []})
    await standin.start()
    try:
        env = base_env(tmp_path) | {"DISCORD_API_BASE_URL": standin.api_base}
        result = await asyncio.to_thread(run_bot, "sync", "--guild", str(GUILD), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Registered" in result.stdout
        (put,) = standin.requests_to(rf"/applications/\d+/guilds/{GUILD}/commands", "PUT")
        assert {"imagine", "usage", "budget", "settings", "review"} <= {c["name"] for c in put.json}
        assert standin.identifies == 0  # sync talks REST only
    finally:
        await standin.close()


async def test_json_logs_are_one_object_per_line_and_show_no_secret(tmp_path: Path, serve: Serve) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.1))
    env = base_env(tmp_path, await serve(simulator.app) + BASE_PATH) | {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "POLL_MIN_SECONDS": "0.1",
    }
    result = await asyncio.to_thread(
        run_bot, "imagine", "a fox", "-o", str(tmp_path / "fox.png"), env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fox.png").read_bytes().startswith(b"\x89PNG")
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert TEST_KEY not in result.stderr and DISCORD_TOKEN not in result.stderr


# --- metrics -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_count_calls_errors_jobs_and_spend(
    bot_database: str, sim_url: str, simulator: Simulator, http: aiohttp.ClientSession
) -> None:
    from tests.test_jobs import FAST, World

    port = free_port()
    metrics = PrometheusMetrics(port, host="127.0.0.1")
    world = World(bot_database, http, sim_url, simulator, FAST)
    world.metrics = metrics
    await world.start()
    try:
        await world.until_final((await world.submit()).id)
        simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=402))
        await world.until_final((await world.submit(member=2)).id)
    finally:
        await world.stop()
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    assert 'imagine_jobs_ended_total{state="delivered"} 1.0' in text
    assert 'imagine_jobs_ended_total{state="failed"} 1.0' in text
    assert "imagine_spend_microdollars_total 8000.0" in text
    assert 'imagine_pixazo_errors_total{kind="Balance"} 1.0' in text
    assert re.search(r'imagine_pixazo_request_seconds_count\{call="submit"\} 2\.0', text)


@pytest.mark.parametrize("value", ["0", "70000", "http"])
def test_a_bad_metrics_port_is_a_config_error(tmp_path: Path, value: str) -> None:
    result = run_bot("check", env=base_env(tmp_path) | {"METRICS_PORT": value}, cwd=tmp_path)
    assert result.returncode == 2 and "METRICS_PORT" in result.stderr
