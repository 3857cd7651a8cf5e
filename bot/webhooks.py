"""Completion by webhook: the URL each submit gives Pixazo to call, and the endpoint that takes the calls.

Each job's URL is ``<PIXAZO_WEBHOOK_URL>/pixazo/<job id>/<token>``, the token an HMAC of the job id under
`WEBHOOK_SECRET`, so only Pixazo (which was told the URL) can make a valid call. A valid call only makes
the job's next result call happen at once: its body is not documented and is never trusted for state,
images or money. Anything else gets 404 and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from aiohttp import web

from bot.config import Secret
from bot.startup import port_problem

log = logging.getLogger(__name__)

_TOKEN_CHARS = 32


class WebhookUrls:
    """Signs and checks the per-job callback URLs."""

    def __init__(self, base_url: str, secret: Secret) -> None:
        self._base = base_url.rstrip("/")
        self._key = secret.reveal().encode()

    def __repr__(self) -> str:
        return f"WebhookUrls(base_url={self._base!r})"

    def url_for(self, job_id: int) -> str:
        return f"{self._base}/pixazo/{job_id}/{self._token(job_id)}"

    def valid(self, job_id: int, token: str) -> bool:
        return hmac.compare_digest(self._token(job_id), token)

    def _token(self, job_id: int) -> str:
        return hmac.new(self._key, str(job_id).encode(), hashlib.sha256).hexdigest()[:_TOKEN_CHARS]


def webhook_app(urls: WebhookUrls, wake: Callable[[int], bool]) -> web.Application:
    """The endpoint Pixazo calls when a job ends: a valid call wakes the job's poll, nothing more."""

    async def called(request: web.Request) -> web.Response:
        job_id, token = request.match_info["job_id"], request.match_info["token"]
        if not job_id.isdigit() or not urls.valid(int(job_id), token):
            return web.Response(status=404)
        await request.read()  # a hint at most; never trusted
        woken = wake(int(job_id))
        log.debug("webhook for job %s%s", job_id, "" if woken else " (too soon after the last; ignored)")
        return web.Response(status=204)

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_route("*", "/pixazo/{job_id}/{token}", called)
    return app


async def serve_webhooks(app: web.Application, port: int) -> web.AppRunner:
    """Listen for Pixazo's calls on every interface (the operator publishes the port behind their URL)."""
    runner = web.AppRunner(app, access_log=None)  # the paths hold tokens: never in a log line
    await runner.setup()
    try:
        await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104 - called from outside the host
    except OSError as exc:
        await runner.cleanup()
        raise port_problem("WEBHOOK_PORT", port, exc) from None
    log.info("webhook endpoint listening on port %d", port)
    return runner
