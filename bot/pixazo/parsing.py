"""Reading Pixazo's answers: both result forms and both status vocabularies onto one model.

Every shape problem becomes `PixazoBadResponseError` carrying a short excerpt of the body, never a
`KeyError` or `TypeError`.
"""

from __future__ import annotations

import json
from typing import Any

import yarl

from bot.errors import PixazoBadResponseError
from bot.pixazo.wire import SubmitResult, UpstreamImage, UpstreamState, UpstreamStatus

EXCERPT_CHARS = 200
_STATES = {
    "IN_QUEUE": UpstreamState.QUEUED,
    "QUEUED": UpstreamState.QUEUED,
    "PENDING": UpstreamState.QUEUED,
    "IN_PROGRESS": UpstreamState.RUNNING,
    "PROCESSING": UpstreamState.RUNNING,
    "RUNNING": UpstreamState.RUNNING,
    "COMPLETED": UpstreamState.COMPLETED,
    "FAILED": UpstreamState.FAILED,
    "ERROR": UpstreamState.FAILED,
}
_SAFETY_WORDS = ("safety", "nsfw", "content policy", "inappropriate")


def parse_submit(body: object) -> SubmitResult:
    if not isinstance(body, dict):
        raise PixazoBadResponseError("submit answer is not a JSON object", detail=excerpt(repr(body)))
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        raise PixazoBadResponseError("submit answer has no request_id", detail=excerpt(json.dumps(body)))
    polling_url = body.get("polling_url")
    if polling_url is not None and (not isinstance(polling_url, str) or not is_http_url(polling_url)):
        raise PixazoBadResponseError("submit answer has an unusable polling_url", detail=excerpt(json.dumps(body)))
    return SubmitResult(request_id=request_id.strip(), polling_url=polling_url or None)


def parse_status(body: object) -> UpstreamStatus:
    if not isinstance(body, dict):
        raise PixazoBadResponseError("status answer is not a JSON object", detail=excerpt(repr(body)))
    raw_status = body.get("status")
    word = raw_status.strip().upper() if isinstance(raw_status, str) else ""
    state = _STATES.get(word)
    if state is None:
        raise PixazoBadResponseError("status answer has no known status", detail=excerpt(json.dumps(body)))
    if state is UpstreamState.QUEUED:
        position = body.get("queue_position")
        valid = isinstance(position, int) and not isinstance(position, bool) and position >= 0
        return UpstreamStatus(state, queue_position=position if valid else None)
    if state is UpstreamState.RUNNING:
        return UpstreamStatus(state)
    if state is UpstreamState.COMPLETED:
        return UpstreamStatus(state, images=_parse_images(body))
    reason = _failure_reason(body)
    system_error = word == "ERROR"
    safety = not system_error and any(word in reason.lower() for word in _SAFETY_WORDS)
    return UpstreamStatus(state, reason=reason, safety=safety, system_error=system_error)


def _parse_images(body: dict[str, Any]) -> tuple[UpstreamImage, ...]:
    if "images" in body:
        items = body["images"]
    elif isinstance(body.get("output"), dict) and "media_url" in body["output"]:
        items = body["output"]["media_url"]
        items = [items] if isinstance(items, str) else items
    else:
        raise PixazoBadResponseError("completed answer has no images", detail=excerpt(json.dumps(body)))
    if not isinstance(items, list):
        raise PixazoBadResponseError("completed answer's images are not a list", detail=excerpt(json.dumps(body)))
    images = []
    for item in items:
        if isinstance(item, str):
            item = {"url": item}
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not is_http_url(url):
            raise PixazoBadResponseError(
                "completed answer has an image without a URL", detail=excerpt(json.dumps(body))
            )
        content_type = item.get("content_type")
        images.append(
            UpstreamImage(
                url=url,
                width=_positive_int(item.get("width")),
                height=_positive_int(item.get("height")),
                content_type=content_type if isinstance(content_type, str) else None,
            )
        )
    return tuple(images)


def _failure_reason(body: dict[str, Any]) -> str:
    for key in ("error", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return excerpt(value.strip())
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return excerpt(value["message"].strip())
    return "The image service did not say why."


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def is_http_url(text: str) -> bool:
    try:
        url = yarl.URL(text)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def excerpt(text: str) -> str:
    """A short, single-line excerpt of what the API said."""
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
