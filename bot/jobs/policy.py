"""Small decisions of the runner: how often to poll, and what kind of failure an upstream error is."""

from __future__ import annotations

from bot.errors import PixazoBalanceError, PixazoError, PixazoRateLimitedError
from bot.jobs.settings import RunnerSettings
from bot.models import FailureKind
from bot.pixazo import UpstreamState, UpstreamStatus


def poll_interval(status: UpstreamStatus, settings: RunnerSettings) -> float:
    """Poll often near the front of the queue and while rendering, seldom far back."""
    low, high = settings.poll_min_seconds, settings.poll_max_seconds
    if status.state is UpstreamState.RUNNING:
        return low
    if status.queue_position is None:
        return (low + high) / 2
    return min(high, max(low, low * status.queue_position))


def failure_kind(exc: PixazoError) -> FailureKind:
    if isinstance(exc, PixazoBalanceError):
        return FailureKind.BALANCE
    if isinstance(exc, PixazoRateLimitedError):
        return FailureKind.BUSY
    return FailureKind.UPSTREAM
