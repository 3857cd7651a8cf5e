"""How Pixazo's answers become errors, and which of them are worth trying again."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from bot.errors import (
    PixazoAuthError,
    PixazoBalanceError,
    PixazoError,
    PixazoInvalidRequestError,
    PixazoNotFoundError,
    PixazoRateLimitedError,
    PixazoTransientError,
)

# Submit retries only where the answer proves no job was created.
_SUBMIT_RETRY_STATUSES = frozenset({502, 503, 504})


def http_error(status: int, detail: str, retry_after: str | None) -> PixazoError:
    if status == 400 or status == 422:
        return PixazoInvalidRequestError("Pixazo refused the request", status=status, detail=detail)
    if status in (401, 403):
        return PixazoAuthError("Pixazo refused the API key", status=status, detail=detail)
    if status == 402:
        return PixazoBalanceError("the Pixazo balance is exhausted", status=status, detail=detail)
    if status == 404:
        return PixazoNotFoundError("Pixazo does not know that endpoint or request", status=status, detail=detail)
    if status == 429:
        return PixazoRateLimitedError(
            "Pixazo is rate limiting",
            status=status,
            detail=detail,
            retry_after=parse_retry_after(retry_after),
        )
    if status >= 500 or status == 408:
        return PixazoTransientError("Pixazo had a server error", status=status, detail=detail)
    return PixazoError("Pixazo answered with an unexpected status", status=status, detail=detail)


def transport_error(exc: BaseException) -> PixazoTransientError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        # The connection never opened, so nothing was sent.
        return PixazoTransientError(f"could not connect to Pixazo ({type(exc).__name__})")
    if isinstance(exc, TimeoutError):
        return PixazoTransientError("Pixazo did not answer in time", request_may_have_arrived=True)
    return PixazoTransientError(
        f"the connection to Pixazo failed mid-request ({type(exc).__name__})", request_may_have_arrived=True
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def submit_retryable(exc: PixazoError) -> bool:
    """A submit is tried again only where the answer proves no job was made. Not on 429: the job engine sends
    less at once and sends it again when there is room (see `bot.pixazo.capacity`)."""
    if isinstance(exc, PixazoTransientError):
        return exc.status in _SUBMIT_RETRY_STATUSES or (exc.status is None and not exc.request_may_have_arrived)
    return False


def always_retryable(exc: PixazoError) -> bool:
    return isinstance(exc, PixazoRateLimitedError | PixazoTransientError)
