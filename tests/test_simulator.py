"""The simulator on its own: its queue, its images, and `python -m bot simulate` over plain HTTP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bot.imaging import png_size
from bot.simulator import BASE_PATH, Simulator, SimulatorSettings
from tests.conftest import Serve

HEADERS = {
    "Ocp-Apim-Subscription-Key": "any",
    "Content-Type": "application/json",
    "Cache-Control": "no-cache",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def submit_and_poll(http: aiohttp.ClientSession, base: str, prompt: str, **options: object) -> str:
    async with http.post(f"{base}/z-image-turbo-request", json={"prompt": prompt, **options}) as resp:
        request_id: str = (await resp.json())["request_id"]
    return request_id


async def status_of(http: aiohttp.ClientSession, base: str, request_id: str) -> dict[str, object]:
    async with http.post(f"{base}/z-image-turbo-request-result", json={"request_id": request_id}) as resp:
        body: dict[str, object] = await resp.json()
    return body


async def test_queue_positions_count_down_in_real_time_with_several_renderers(serve: Serve) -> None:
    clock = FakeClock()
    simulator = Simulator(SimulatorSettings(render_seconds=2, concurrency=2, queue_depth=4), clock=clock)
    base = await serve(simulator.app) + BASE_PATH
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        mine = await submit_and_poll(http, base, "a cat")
        # two backlog jobs render now, two wait, so this one is third in line
        assert (await status_of(http, base, mine))["queue_position"] == 3
        clock.now += 2  # the first two finish, the next two start
        assert (await status_of(http, base, mine))["queue_position"] == 1
        clock.now += 2
        assert (await status_of(http, base, mine))["status"] == "IN_PROGRESS"
        clock.now += 2
        assert (await status_of(http, base, mine))["status"] == "COMPLETED"


async def test_every_job_gets_its_own_image_bytes_even_for_the_same_prompt_and_seed(serve: Serve) -> None:
    clock = FakeClock()
    simulator = Simulator(SimulatorSettings(render_seconds=1, concurrency=20), clock=clock)
    base = await serve(simulator.app) + BASE_PATH
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        ids = [await submit_and_poll(http, base, "the same", seed=42, image_size="square") for _ in range(20)]
        clock.now += 1
        for request_id in ids:
            assert (await status_of(http, base, request_id))["status"] == "COMPLETED"
    images = {simulator.images_of(request_id)[0] for request_id in ids}
    assert len(images) == 20
    assert all(png_size(image) == (512, 512) for image in images)


@pytest.fixture
def served_simulator() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "simulate",
            "--port",
            str(port),
            "--render-seconds",
            "0.3",
            "--queue-depth",
            "2",
            "--blocked-word",
            "nope",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    assert f"127.0.0.1:{port}" in first_line
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


async def test_the_command_serves_a_job_from_queued_to_a_downloadable_png(served_simulator: str) -> None:
    base = served_simulator + BASE_PATH
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        for _ in range(50):  # the server may need a moment after printing its address
            try:
                async with http.post(
                    f"{base}/z-image-turbo-request",
                    json={"prompt": "a lighthouse", "image_size": "portrait_9_16", "num_images": 2},
                ) as resp:
                    submitted = await resp.json()
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        statuses: list[dict[str, Any]] = []
        while not statuses or statuses[-1]["status"] not in ("COMPLETED", "FAILED"):
            async with http.post(
                f"{base}/z-image-turbo-request-result", json={"request_id": submitted["request_id"]}
            ) as resp:
                statuses.append(await resp.json())
            await asyncio.sleep(0.05)
        assert statuses[0]["status"] == "IN_QUEUE"
        assert statuses[0]["queue_position"] >= 1
        assert "IN_PROGRESS" in [s["status"] for s in statuses]
        images = statuses[-1]["images"]
        assert len(images) == 2
        bodies = []
        for image in images:
            async with http.get(image["url"]) as resp:
                assert resp.headers["Content-Type"] == "image/png"
                bodies.append(await resp.read())
        assert png_size(bodies[0]) == (576, 1024) == (images[0]["width"], images[0]["height"])
        assert bodies[0] != bodies[1]

        async with http.post(f"{base}/z-image-turbo-request", json={"prompt": "say NOPE"}) as resp:
            blocked = await resp.json()
        await asyncio.sleep(1.2)
        async with http.post(f"{base}/z-image-turbo-request-result", json=blocked) as resp:
            assert await resp.json() == {
                "status": "FAILED",
                "request_id": blocked["request_id"],
                "error": "Prompt failed safety check. Please refine your input.",
            }

    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.post(f"{base}/z-image-turbo-request", json={"prompt": "x"}) as resp,
    ):
        assert resp.status == 401
