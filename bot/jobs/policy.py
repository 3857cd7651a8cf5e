"""What kind of failure an upstream error is."""

from __future__ import annotations

from bot.errors import PixazoBalanceError, PixazoError, PixazoRateLimitedError
from bot.models import FailureKind


def failure_kind(exc: PixazoError) -> FailureKind:
    if isinstance(exc, PixazoBalanceError):
        return FailureKind.BALANCE
    if isinstance(exc, PixazoRateLimitedError):
        return FailureKind.BUSY
    return FailureKind.UPSTREAM
