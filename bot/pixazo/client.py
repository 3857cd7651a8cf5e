"""The Pixazo Z-Image-Turbo client: typed results, one exception type per failure, bounded retries.

Every HTTP call to Pixazo in the project goes through `PixazoClient`. It accepts both result forms
the API has documented: the seed's ``POST …/z-image-turbo-request-result`` and the newer
``GET {polling_url}``, and maps both status vocabularies onto `UpstreamState`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import yarl

from bot.breaker import CircuitBreaker
from bot.config import DEFAULT_BASE_URL, Secret
from bot.errors import (
    PixazoBadResponseError,
    PixazoError,
    PixazoImageError,
    PixazoImageTooLargeError,
    PixazoRateLimitedError,
    PixazoTransientError,
)
from bot.metrics import NO_METRICS, Metrics
from bot.pixazo.capacity import Throttle
from bot.pixazo.failures import always_retryable, http_error, submit_retryable, transport_error
from bot.pixazo.parsing import excerpt, parse_status, parse_submit
from bot.pixazo.wire import DownloadedImage, GenerationRequest, SubmitResult, UpstreamStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_JSON_BYTES = 1 << 20
_PROBE_REQUEST_ID = "imagine-bot-probe-00000000"
_IMAGE_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, bounded in attempts and in total time."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    total_seconds: float = 30.0

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        growth: float = 2.0 ** (attempt - 1)
        return min(self.max_delay, self.base_delay * growth) * (0.5 + rng() / 2)


DEFAULT_RETRY = RetryPolicy()


class PixazoClient:
    """Talks to the Pixazo API over one injected `aiohttp.ClientSession`, which the caller owns."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: Secret,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics = NO_METRICS,
        requests_per_second: float = 200.0,
    ) -> None:
        self._session = session
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self._retry = retry
        self._sleep = sleep
        self.breaker = CircuitBreaker()
        self.throttle = Throttle(requests_per_second)
        self._metrics = metrics

    def __repr__(self) -> str:
        return f"PixazoClient(base_url={self._base!r})"

    # --- the three calls ------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest, *, webhook_url: str | None = None) -> SubmitResult:
        """Start a job. Retried only when the failure proves no job was created.

        A `PixazoTransientError` with `request_may_have_arrived` means the job may exist. With `webhook_url`,
        Pixazo is asked to call it when the job ends (``X-Webhook-URL``).
        """
        extra = {"X-Webhook-URL": webhook_url} if webhook_url else None
        body = await self._with_retries(
            "submit",
            lambda: self._call("POST", f"{self._base}/z-image-turbo-request", request.to_json(), extra),
            retryable=submit_retryable,
        )
        return parse_submit(body)

    async def status(self, request_id: str, polling_url: str | None = None) -> UpstreamStatus:
        """Where a job is. Follows `polling_url` when the submit answer gave one."""
        if polling_url:
            call = lambda: self._call("GET", polling_url, None)  # noqa: E731
        else:
            url = f"{self._base}/z-image-turbo-request-result"
            call = lambda: self._call("POST", url, {"request_id": request_id})  # noqa: E731
        body = await self._with_retries("status", call, retryable=always_retryable)
        return parse_status(body)

    async def download(self, url: str, max_bytes: int) -> DownloadedImage:
        """Fetch a result image, refusing anything past `max_bytes` or that is not an image.

        The key is not sent: result URLs point at storage, not at the API.
        """
        if yarl.URL(url).scheme not in ("http", "https"):
            raise PixazoBadResponseError("image URL is not http(s)", detail=excerpt(url))
        return await self._with_retries(
            "download", lambda: self._download_once(url, max_bytes), retryable=always_retryable
        )

    async def available(self) -> bool:
        """Whether to accept new work: the breaker is closed, or a probe (which costs nothing) says the
        service answers again. A result call for a made-up id is the probe: any HTTP answer will do."""
        if self.breaker.probe_due():
            with contextlib.suppress(PixazoError):
                await self.status(_PROBE_REQUEST_ID)
        return self.breaker.allows_new_work()

    # --- plumbing -------------------------------------------------------------------------------

    async def _with_retries(
        self, what: str, call: Callable[[], Awaitable[T]], *, retryable: Callable[[PixazoError], bool]
    ) -> T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._retry.total_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await call()
            except PixazoError as exc:
                if not retryable(exc) or attempt >= self._retry.attempts:
                    self._record(what, loop.time() - started, exc)
                    raise
                delay = self._retry.backoff(attempt)
                if isinstance(exc, PixazoRateLimitedError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                if loop.time() + delay > deadline:
                    self._record(what, loop.time() - started, exc)
                    raise
                log.warning("Pixazo %s failed (%s); attempt %d, retrying in %.1fs", what, exc, attempt, delay)
                await self._sleep(delay)
            else:
                self.breaker.succeeded()
                self._metrics.pixazo_call(what, loop.time() - started, None)
                return result

    def _record(self, what: str, seconds: float, exc: PixazoError) -> None:
        """Tell the breaker and the metrics how a call ended: only the service's own trouble counts
        against the breaker."""
        self._metrics.pixazo_call(what, seconds, type(exc).__name__.removeprefix("Pixazo").removesuffix("Error"))
        if isinstance(exc, PixazoTransientError | PixazoRateLimitedError):
            self.breaker.failed()
        else:
            self.breaker.succeeded()  # it answered, if not as hoped

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "Ocp-Apim-Subscription-Key": self._key.reveal(),
        }

    async def _call(
        self, method: str, url: str, body: Mapping[str, object] | None, extra: Mapping[str, str] | None = None
    ) -> object:
        log.debug("Pixazo %s %s", method, url)
        await self.throttle.wait()
        try:
            async with self._session.request(
                method, url, json=body, headers=self._headers() | dict(extra or {}), timeout=self._timeout
            ) as resp:
                raw = await _read_capped(resp, _MAX_JSON_BYTES)
                if resp.status >= 400:
                    error = http_error(resp.status, self._clean(raw), resp.headers.get("Retry-After"))
                    if isinstance(error, PixazoRateLimitedError):
                        self.throttle.pushed_back(error.retry_after)
                    elif isinstance(error, PixazoTransientError):
                        self.throttle.pushed_back(None)
                    raise error
                self.throttle.succeeded()
        except PixazoError:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise PixazoBadResponseError("Pixazo answered with malformed JSON", detail=self._clean(raw)) from None

    async def _download_once(self, url: str, max_bytes: int) -> DownloadedImage:
        try:
            async with self._session.get(url, timeout=self._timeout) as resp:
                if resp.status >= 400:
                    raw = await _read_capped(resp, 4096)
                    raise http_error(resp.status, self._clean(raw), resp.headers.get("Retry-After"))
                content_type = resp.content_type.lower()
                if content_type not in _IMAGE_MAGIC:
                    raise PixazoImageError("the result URL did not serve an image", detail=content_type)
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise PixazoImageTooLargeError(
                        "the image is larger than allowed", size=resp.content_length, limit=max_bytes
                    )
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise PixazoImageTooLargeError("the image is larger than allowed", size=None, limit=max_bytes)
        except PixazoError:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc) from None
        if not data.startswith(_IMAGE_MAGIC[content_type]):
            raise PixazoImageError("the image bytes do not match their content type", detail=content_type)
        return DownloadedImage(bytes(data), content_type, url)

    def _clean(self, raw: bytes) -> str:
        """A short, printable excerpt of a body with the key blanked out, should the API echo it."""
        text = raw.decode("utf-8", "replace")
        key = self._key.reveal()
        if key:
            text = text.replace(key, "********")
        return excerpt(text)


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    data = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            break
    return bytes(data[:limit])
