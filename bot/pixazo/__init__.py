"""Pixazo: the client, what it sends and receives, and how it reads the answers."""

from bot.pixazo.client import DEFAULT_RETRY, PixazoClient, RetryPolicy
from bot.pixazo.failures import parse_retry_after
from bot.pixazo.wire import (
    MAX_IMAGES,
    DownloadedImage,
    GenerationRequest,
    SubmitResult,
    UpstreamImage,
    UpstreamState,
    UpstreamStatus,
)

__all__ = [
    "DEFAULT_RETRY",
    "MAX_IMAGES",
    "DownloadedImage",
    "GenerationRequest",
    "PixazoClient",
    "RetryPolicy",
    "SubmitResult",
    "UpstreamImage",
    "UpstreamState",
    "UpstreamStatus",
    "parse_retry_after",
]
