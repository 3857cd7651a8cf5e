"""The Pixazo client against the real simulator on 127.0.0.1: every state, every error, the retries."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from bot.config import Secret
from bot.errors import (
    PixazoAuthError,
    PixazoBadResponseError,
    PixazoBalanceError,
    PixazoError,
    PixazoImageError,
    PixazoImageTooLargeError,
    PixazoInvalidRequestError,
    PixazoNotFoundError,
    PixazoRateLimitedError,
    PixazoTransientError,
)
from bot.pixazo import GenerationRequest, PixazoClient, RetryPolicy, UpstreamState, UpstreamStatus, parse_retry_after
from bot.pixazo.parsing import parse_status
from bot.simulator import Endpoint, Fault, FaultKind, ResultForm, Simulator, SimulatorSettings
from tests.conftest import FAST_RETRY, TEST_KEY, Serve

CAT = GenerationRequest(prompt="a cat in a hat", image_size="landscape_4_3")


async def poll_until(
    client: PixazoClient,
    request_id: str,
    polling_url: str | None,
    final: UpstreamState,
) -> list[UpstreamStatus]:
    seen: list[UpstreamStatus] = []
    for _ in range(200):
        status = await client.status(request_id, polling_url)
        seen.append(status)
        if status.state is final:
            return seen
        await asyncio.sleep(0.03)
    raise AssertionError(f"never reached {final}: {seen[-3:]}")


# --- both result forms ----------------------------------------------------------------------------


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.2, queue_depth=2)


async def test_seed_form_walks_from_queue_to_completed_with_position_counting_down(
    pixazo: PixazoClient, simulator: Simulator
) -> None:
    submitted = await pixazo.submit(CAT)
    assert submitted.polling_url is None
    seen = await poll_until(pixazo, submitted.request_id, None, UpstreamState.COMPLETED)
    states = [status.state for status in seen]
    assert states[0] is UpstreamState.QUEUED
    assert UpstreamState.RUNNING in states
    positions = [s.queue_position or 0 for s in seen if s.state is UpstreamState.QUEUED]
    assert positions[0] == 2
    assert positions == sorted(positions, reverse=True)
    assert 1 in positions
    (image,) = seen[-1].images
    assert (image.width, image.height, image.content_type) == (1024, 768, "image/png")
    downloaded = await pixazo.download(image.url, max_bytes=10_000_000)
    assert downloaded.data == simulator.images_of(submitted.request_id)[0]
    assert downloaded.content_type == "image/png"


@pytest.mark.parametrize("form", list(ResultForm))
async def test_safety_failure_is_reported_as_failed_for_safety(
    serve: Serve, http: aiohttp.ClientSession, form: ResultForm
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.05, result_form=form, blocked_words=("forbidden",)))
    client = PixazoClient(
        http,
        api_key=Secret(TEST_KEY),
        base_url=await serve(simulator.app) + "/z-image-turbo-834/v1",
        retry=FAST_RETRY,
    )
    submitted = await client.submit(GenerationRequest(prompt="something Forbidden", image_size="square_1_1"))
    final = (await poll_until(client, submitted.request_id, submitted.polling_url, UpstreamState.FAILED))[-1]
    assert final.safety
    assert not final.system_error
    assert final.reason == "Prompt failed safety check. Please refine your input."


async def test_polling_form_follows_the_polling_url_and_maps_its_vocabulary(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    simulator = Simulator(SimulatorSettings(render_seconds=0.2, queue_depth=1, result_form=ResultForm.POLLING))
    client = PixazoClient(
        http,
        api_key=Secret(TEST_KEY),
        base_url=await serve(simulator.app) + "/z-image-turbo-834/v1",
        retry=FAST_RETRY,
    )
    submitted = await client.submit(GenerationRequest(prompt="a cat", image_size="square_1_1", num_images=3))
    assert submitted.request_id.startswith("z-image-turbo-834_")
    assert submitted.polling_url is not None
    assert submitted.polling_url.endswith(submitted.request_id)
    seen = await poll_until(client, submitted.request_id, submitted.polling_url, UpstreamState.COMPLETED)
    assert {status.state for status in seen} == {
        UpstreamState.QUEUED,
        UpstreamState.RUNNING,
        UpstreamState.COMPLETED,
    }
    assert all(status.queue_position is None for status in seen)  # this form gives no position
    assert len(seen[-1].images) == 3
    results = [r for r in simulator.requests if r.endpoint == Endpoint.RESULT]
    assert results
    assert all(r.method == "GET" and r.path.startswith("/v2/requests/status/") for r in results)
    bodies = [await client.download(image.url, 10_000_000) for image in seen[-1].images]
    assert len({body.data for body in bodies}) == 3  # every image its own bytes

    simulator.inject(Endpoint.RESULT, Fault(FaultKind.SYSTEM_ERROR))
    errored = await client.status(submitted.request_id, submitted.polling_url)
    assert errored.state is UpstreamState.FAILED
    assert errored.system_error
    assert not errored.safety


async def test_every_call_sends_the_documented_headers(pixazo: PixazoClient, simulator: Simulator) -> None:
    submitted = await pixazo.submit(CAT)
    await pixazo.status(submitted.request_id)
    for request in simulator.requests:
        assert request.headers["Ocp-Apim-Subscription-Key"] == TEST_KEY
        assert request.headers["Cache-Control"] == "no-cache"
        assert request.headers["Content-Type"] == "application/json"
    assert simulator.requests[0].body == {
        "prompt": "a cat in a hat",
        "image_size": "landscape_4_3",
        "num_inference_steps": 8,
        "num_images": 1,
        "enable_safety_checker": True,
        "output_format": "png",
        "acceleration": "none",
    }  # no seed unless the member chose one


# --- HTTP errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PixazoInvalidRequestError),
        (401, PixazoAuthError),
        (402, PixazoBalanceError),
        (403, PixazoAuthError),
        (404, PixazoNotFoundError),
    ],
)
async def test_each_http_error_maps_to_its_own_exception_without_retry(
    pixazo: PixazoClient, simulator: Simulator, status: int, error: type[PixazoError]
) -> None:
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=status), times=5)
    with pytest.raises(error) as caught:
        await pixazo.submit(CAT)
    assert caught.value.status == status
    assert simulator.count(Endpoint.SUBMIT) == 1


async def test_real_refusals_map_too(pixazo: PixazoClient, http: aiohttp.ClientSession, sim_url: str) -> None:
    with pytest.raises(PixazoInvalidRequestError, match="num_images"):
        await pixazo.submit(GenerationRequest(prompt="x", image_size="square_1_1", num_images=9))
    with pytest.raises(PixazoNotFoundError):
        await pixazo.status("no-such-request")
    wrong_key = PixazoClient(http, api_key=Secret("sk-wrong"), base_url=sim_url, retry=FAST_RETRY)
    with pytest.raises(PixazoAuthError):
        await wrong_key.submit(CAT)


async def test_rate_limit_then_success_waits_as_long_as_retry_after_says(
    http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    client = PixazoClient(http, api_key=Secret(TEST_KEY), base_url=sim_url, retry=FAST_RETRY, sleep=sleep)
    submitted = await client.submit(CAT)
    simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=429, retry_after=0.3))
    status = await client.status(submitted.request_id)
    assert status.state is UpstreamState.QUEUED
    assert waits == [pytest.approx(0.3)]
    assert simulator.count(Endpoint.RESULT) == 2


async def test_a_submit_refused_with_429_is_left_to_the_job_engine_and_holds_the_next_call(
    http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    client = PixazoClient(http, api_key=Secret(TEST_KEY), base_url=sim_url, retry=FAST_RETRY)
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=429, retry_after=0.3))
    with pytest.raises(PixazoRateLimitedError):
        await client.submit(CAT)  # not sent again here: the engine sends less at once, and this one later
    assert simulator.count(Endpoint.SUBMIT) == 1
    refused_at = simulator.requests[-1].at
    await client.submit(CAT)
    assert simulator.requests[-1].at - refused_at >= 0.3  # the next call waited as long as Pixazo asked


async def test_rate_limit_past_the_time_budget_gives_up_with_retry_after(
    http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    client = PixazoClient(
        http,
        api_key=Secret(TEST_KEY),
        base_url=sim_url,
        retry=RetryPolicy(attempts=5, base_delay=0.01, total_seconds=2.0),
    )
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=429, retry_after=60))
    with pytest.raises(PixazoRateLimitedError) as caught:
        await client.submit(CAT)
    assert caught.value.retry_after == 60
    assert simulator.count(Endpoint.SUBMIT) == 1


async def test_a_500_storm_on_polling_ends_in_a_transient_error_after_bounded_retries(
    pixazo: PixazoClient, simulator: Simulator
) -> None:
    submitted = await pixazo.submit(CAT)
    simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=500), times=50)
    with pytest.raises(PixazoTransientError) as caught:
        await pixazo.status(submitted.request_id)
    assert caught.value.status == 500
    assert simulator.count(Endpoint.RESULT) == FAST_RETRY.attempts


async def test_submit_is_not_retried_after_a_500_because_the_answer_ends_it(
    pixazo: PixazoClient, simulator: Simulator
) -> None:
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=500), times=3)
    with pytest.raises(PixazoTransientError) as caught:
        await pixazo.submit(CAT)
    assert not caught.value.request_may_have_arrived
    assert simulator.count(Endpoint.SUBMIT) == 1


async def test_submit_is_retried_after_503_which_proves_no_job_was_made(
    pixazo: PixazoClient, simulator: Simulator
) -> None:
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=503), times=2)
    await pixazo.submit(CAT)
    assert simulator.count(Endpoint.SUBMIT) == 3
    assert len(simulator.jobs) == 1


async def test_submit_is_never_retried_after_a_read_timeout(
    http: aiohttp.ClientSession, sim_url: str, simulator: Simulator
) -> None:
    client = PixazoClient(http, api_key=Secret(TEST_KEY), base_url=sim_url, timeout=0.3, retry=FAST_RETRY)
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.SLOW, delay=0.6))
    with pytest.raises(PixazoTransientError) as caught:
        await client.submit(CAT)
    assert caught.value.request_may_have_arrived
    assert simulator.count(Endpoint.SUBMIT) == 1  # the client has given up: it can retry no more
    async with asyncio.timeout(5):
        while not simulator.jobs:  # the slow answer still makes its job upstream
            await asyncio.sleep(0.01)
    assert len(simulator.jobs) == 1


async def test_submit_is_never_retried_after_a_dropped_connection(pixazo: PixazoClient, simulator: Simulator) -> None:
    simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.DROP))
    with pytest.raises(PixazoTransientError) as caught:
        await pixazo.submit(CAT)
    assert caught.value.request_may_have_arrived
    assert simulator.count(Endpoint.SUBMIT) == 1


async def test_connection_refused_is_retried_then_reported_as_not_sent(http: aiohttp.ClientSession) -> None:
    attempts: list[float] = []

    async def sleep(seconds: float) -> None:
        attempts.append(seconds)

    client = PixazoClient(
        http, api_key=Secret(TEST_KEY), base_url="http://127.0.0.1:9/v1", retry=FAST_RETRY, sleep=sleep
    )
    with pytest.raises(PixazoTransientError) as caught:
        await client.submit(CAT)
    assert not caught.value.request_may_have_arrived
    assert len(attempts) == FAST_RETRY.attempts - 1
    assert all(0 < wait <= FAST_RETRY.max_delay for wait in attempts)


@pytest.mark.parametrize("kind", [FaultKind.MALFORMED_JSON, FaultKind.MISSING_FIELDS])
async def test_unusable_bodies_raise_pixazo_error_with_an_excerpt(
    pixazo: PixazoClient, simulator: Simulator, kind: FaultKind
) -> None:
    simulator.inject(Endpoint.SUBMIT, Fault(kind))
    with pytest.raises(PixazoBadResponseError) as caught:
        await pixazo.submit(CAT)
    assert caught.value.detail  # what the API said, shortened
    submitted = await pixazo.submit(CAT)
    simulator.inject(Endpoint.RESULT, Fault(kind))
    with pytest.raises(PixazoBadResponseError):
        await pixazo.status(submitted.request_id)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "COMPLETED",
        {},
        {"status": 3},
        {"status": "DANCING"},
        {"status": "COMPLETED"},
        {"status": "COMPLETED", "images": "x"},
        {"status": "COMPLETED", "images": [{"width": 3}]},
        {"status": "COMPLETED", "images": [{"url": "ftp://x/y.png"}]},
        {"status": "COMPLETED", "output": 4},
    ],
)
def test_parse_status_refuses_shapes_it_cannot_use(body: object) -> None:
    with pytest.raises(PixazoBadResponseError):
        parse_status(body)


def test_parse_status_is_lenient_where_it_can_be() -> None:
    assert parse_status({"status": "IN_QUEUE", "queue_position": "3"}).queue_position is None
    assert parse_status({"status": "in_progress"}).state is UpstreamState.RUNNING
    completed = parse_status({"status": "COMPLETED", "output": {"media_url": "https://x/y.png"}})
    assert completed.images[0].url == "https://x/y.png"
    assert parse_status({"status": "COMPLETED", "images": []}).images == ()
    failed = parse_status({"status": "FAILED"})
    assert failed.reason
    assert not failed.safety


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- downloads ------------------------------------------------------------------------------------


async def completed_image_url(pixazo: PixazoClient) -> tuple[str, str]:
    submitted = await pixazo.submit(GenerationRequest(prompt="a cat", image_size="square"))
    final = (await poll_until(pixazo, submitted.request_id, None, UpstreamState.COMPLETED))[-1]
    return submitted.request_id, final.images[0].url


async def test_download_refuses_images_past_the_cap(pixazo: PixazoClient) -> None:
    _, url = await completed_image_url(pixazo)
    with pytest.raises(PixazoImageTooLargeError):
        await pixazo.download(url, max_bytes=100)


async def test_download_refuses_what_is_not_an_image(pixazo: PixazoClient, serve: Serve) -> None:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html>nope</html>", content_type="text/html")

    async def liar(_: web.Request) -> web.Response:
        return web.Response(body=b"GIF89a....", content_type="image/png")

    app = web.Application()
    app.router.add_get("/page.png", page)
    app.router.add_get("/liar.png", liar)
    base = await serve(app)
    with pytest.raises(PixazoImageError, match="did not serve an image"):
        await pixazo.download(f"{base}/page.png", 1000)
    with pytest.raises(PixazoImageError, match="do not match"):
        await pixazo.download(f"{base}/liar.png", 1000)


async def test_download_of_a_missing_image_is_not_found(pixazo: PixazoClient, simulator: Simulator) -> None:
    _, url = await completed_image_url(pixazo)
    simulator.inject(Endpoint.IMAGE, Fault(FaultKind.STATUS, status=404))
    with pytest.raises(PixazoNotFoundError):
        await pixazo.download(url, 10_000_000)


async def test_a_truncated_download_is_retried_and_then_succeeds(pixazo: PixazoClient, simulator: Simulator) -> None:
    request_id, url = await completed_image_url(pixazo)
    simulator.inject(Endpoint.IMAGE, Fault(FaultKind.TRUNCATE))
    image = await pixazo.download(url, 10_000_000)
    assert image.data == simulator.images_of(request_id)[0]
    assert simulator.count(Endpoint.IMAGE) == 2


async def test_truncated_downloads_every_time_end_in_a_transient_error(
    pixazo: PixazoClient, simulator: Simulator
) -> None:
    _, url = await completed_image_url(pixazo)
    simulator.inject(Endpoint.IMAGE, Fault(FaultKind.TRUNCATE), times=10)
    with pytest.raises(PixazoTransientError):
        await pixazo.download(url, 10_000_000)


# --- the key stays secret -------------------------------------------------------------------------


async def test_the_key_appears_in_no_exception_log_or_repr(
    pixazo: PixazoClient,
    simulator: Simulator,
    serve: Serve,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def echo(request: web.Request) -> web.Response:  # an API that repeats the key back
        return web.json_response({"error": f"bad key {request.headers['Ocp-Apim-Subscription-Key']}"}, status=400)

    app = web.Application()
    app.router.add_post("/v1/z-image-turbo-request", echo)
    echoing = PixazoClient(http, api_key=Secret(TEST_KEY), base_url=await serve(app) + "/v1", retry=FAST_RETRY)
    errors: list[BaseException] = []
    for status in (400, 401, 402, 429, 500, 503):
        simulator.inject(Endpoint.SUBMIT, Fault(FaultKind.STATUS, status=status, retry_after=0), times=5)
        with pytest.raises(PixazoError) as caught:
            await pixazo.submit(CAT)
        errors.append(caught.value)
    with pytest.raises(PixazoError) as caught:
        await echoing.submit(CAT)
    errors.append(caught.value)
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(pixazo), caplog.text]
    assert "bad key ********" in str(caught.value)
    assert not [text for text in texts if TEST_KEY in text]
