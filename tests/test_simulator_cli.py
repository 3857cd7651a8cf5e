"""`python -m bot simulate` takes the simulator's faults as flags, so an operator can rehearse an outage."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

import aiohttp
import pytest

from bot.__main__ import _parser
from bot.simulator import BASE_PATH, FaultKind, Simulator
from bot.simulator.cli import add_arguments, settings_from
from tests.conftest import Serve
from tests.test_operations import free_port, run_bot

SUBMIT = f"{BASE_PATH}/z-image-turbo-request"
RESULT = f"{BASE_PATH}/z-image-turbo-request-result"
HEADERS = {"Ocp-Apim-Subscription-Key": "dev", "Content-Type": "application/json"}


def simulator_from(*flags: str) -> Simulator:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return Simulator(settings_from(parser.parse_args(list(flags))))


async def submit_statuses(http: aiohttp.ClientSession, url: str, times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        async with http.post(url + SUBMIT, json={"prompt": "a fox"}, headers=HEADERS) as response:
            statuses.append(response.status)
    return statuses


async def test_fail_status_answers_every_call_with_it(serve: Serve, http: aiohttp.ClientSession) -> None:
    url = await serve(simulator_from("--fail-status", "402").app)
    assert await submit_statuses(http, url, 3) == [402, 402, 402]
    async with http.post(url + RESULT, json={"request_id": "x"}, headers=HEADERS) as response:
        assert response.status == 402 and (await response.json())["error"] == "Insufficient Balance"


async def test_fail_rate_hits_a_share_of_the_calls_the_same_for_a_seed(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    flags = ("--fail-status", "500", "--fail-rate", "0.5", "--seed", "7")
    first = await submit_statuses(http, await serve(simulator_from(*flags).app), 40)
    again = await submit_statuses(http, await serve(simulator_from(*flags).app), 40)
    assert first == again and {200, 500} == set(first)


async def test_truncate_images_cuts_every_download_short(serve: Serve, http: aiohttp.ClientSession) -> None:
    url = await serve(simulator_from("--truncate-images", "--render-seconds", "0").app)
    async with http.post(url + SUBMIT, json={"prompt": "a fox"}, headers=HEADERS) as response:
        request_id = (await response.json())["request_id"]
    async with http.post(url + RESULT, json={"request_id": request_id}, headers=HEADERS) as response:
        image_url = (await response.json())["images"][0]["url"]
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(image_url) as response:
            await response.read()


def test_every_fault_flag_becomes_a_standing_fault() -> None:
    flags = ["--slow", "0.5", "--drop", "--malformed-json", "--missing-fields", "--empty-results", "--system-errors"]
    standing = simulator_from(*flags, "--truncate-images", "--fail-status", "429", "--retry-after", "2").settings
    kinds = {fault.fault.kind for fault in standing.standing_faults}
    assert kinds == set(FaultKind)
    (status,) = [f.fault for f in standing.standing_faults if f.fault.kind is FaultKind.STATUS]
    assert (status.status, status.retry_after) == (429, 2.0)
    assert simulator_from().settings.standing_faults == ()


@pytest.mark.parametrize("command", ["simulate", "imagine", "sync"])
def test_help_documents_every_option_and_its_default(command: str) -> None:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    subparser: argparse.ArgumentParser = commands.choices[command]
    result = run_bot(command, "--help", env={})
    text = " ".join(result.stdout.split())
    assert result.returncode == 0
    for action in subparser._actions:
        name = action.option_strings[-1] if action.option_strings else action.dest
        assert name in text and action.help, name
        if action.default is not None and action.default is not False and action.default != argparse.SUPPRESS:
            assert re.search(rf"\(default: {re.escape(str(action.default))}\)", text), (name, action.default)


async def test_simulate_serves_its_faults_from_the_command_line(http: aiohttp.ClientSession) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "simulate", "--port", str(port), "--fail-status", "402",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert f":{port}" in (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        async with asyncio.timeout(30):
            while True:  # it prints its address just before it listens there
                try:
                    statuses = await submit_statuses(http, f"http://127.0.0.1:{port}", 1)
                    break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.05)
        assert statuses == [402]
    finally:
        process.terminate()
        await process.wait()
