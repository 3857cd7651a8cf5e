"""The simulator's answers over HTTP: validation of a submit, and the shapes of its replies and errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.pixazo.wire import MAX_IMAGES
from bot.simulator.models import IMAGE_SIZES


def validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    if body.get("image_size", "landscape_4_3") not in IMAGE_SIZES:
        return "image_size is not supported"
    count = body.get("num_images", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_IMAGES:
        return "num_images must be between 1 and 4"
    if body.get("output_format", "png") not in ("png", "jpeg", "webp"):
        return "output_format must be png, jpeg or webp"
    steps = body.get("num_inference_steps", 8)
    if not isinstance(steps, int) or not 1 <= steps <= 50:
        return "num_inference_steps must be between 1 and 50"
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or not 0 <= seed < 2**32):
        return "seed must be a non-negative 32-bit integer"
    return None


def completed(request_id: str, images: list[dict[str, Any]], polling: bool) -> dict[str, Any]:
    if polling:
        return {
            "status": "COMPLETED",
            "request_id": request_id,
            "output": {"media_url": [i["url"] for i in images]},
        }
    return {"status": "COMPLETED", "request_id": request_id, "images": images}


def error(status: int, error: str, message: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": error} | ({"message": message} if message else {})
    return web.Response(text=json.dumps(body), status=status, content_type="application/json", headers=headers)


async def drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    # aiohttp needs a response object; nothing reaches the client after the abort
    return web.Response(status=499)
