"""A Pixazo stand-in: an `aiohttp.web` application faithful to PIXAZO.md and the API's own page.

It keeps a real-time queue (jobs wait behind each other and behind an initial backlog, render for
`render_seconds`, `concurrency` at a time), serves real PNG images of its own, refuses prompts with
blocked words through the safety check, records every request, and injects faults on demand.
Used by the tests, by `python -m bot simulate`, and by demos.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.imaging import gradient_png
from bot.simulator.answers import completed, drop, error, validate
from bot.simulator.faults import Faults, answer
from bot.simulator.models import (
    BASE_PATH,
    IMAGE_SIZES,
    SAFETY_MESSAGE,
    SYSTEM_ERROR_MESSAGE,
    Endpoint,
    Fault,
    FaultKind,
    RecordedRequest,
    ResultForm,
    SimJob,
    SimulatorSettings,
)

log = logging.getLogger(__name__)


class Simulator:
    def __init__(self, settings: SimulatorSettings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or SimulatorSettings()
        self._clock = clock
        self.requests: list[RecordedRequest] = []
        self.jobs: dict[str, SimJob] = {}
        self.positions: dict[str, list[int]] = {}  # every queue position reported, per request
        self._faults = Faults(self.settings.standing_faults, random.Random(self.settings.seed))
        self._order: list[SimJob | None] = []  # None for backlog jobs that are not anyone's here
        self._starts: list[float] = []
        now = clock()
        self._workers = [now] * max(1, self.settings.concurrency)
        self.add_backlog(self.settings.queue_depth)
        self.webhook_calls: list[tuple[str, float, int]] = []  # (url, when, the answer's status)
        self._callbacks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.app = web.Application()
        self.app.on_cleanup.append(self._stop_calling_back)
        self.app.add_routes(
            [
                web.post(f"{BASE_PATH}/z-image-turbo-request", self._submit),
                web.post(f"{BASE_PATH}/z-image-turbo-request-result", self._result_seed),
                web.get("/v2/requests/status/{request_id}", self._result_polling),
                web.get("/_sim/images/{request_id}/{index}.png", self._image),
            ]
        )

    # --- for tests ------------------------------------------------------------------------------

    def inject(self, endpoint: Endpoint, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls to `endpoint` misbehave as `fault` says."""
        self._faults.inject(endpoint, fault, times)

    def add_backlog(self, jobs: int) -> None:
        """Queue `jobs` of other customers' work now, ahead of whatever comes next."""
        for _ in range(jobs):
            self._schedule(None)

    def clear_faults(self) -> None:
        self._faults.clear()

    def finished_at(self, request_id: str) -> float:
        """When the job finished (or will), on the simulator's clock."""
        return self.jobs[request_id].finishes_at

    def count(self, endpoint: Endpoint) -> int:
        return sum(1 for request in self.requests if request.endpoint == endpoint)

    def images_of(self, request_id: str) -> list[bytes]:
        return list(self._ensure_images(self.jobs[request_id]))

    # --- queue ----------------------------------------------------------------------------------

    def _schedule(self, job: SimJob | None) -> tuple[float, float]:
        start = max(self._clock(), heapq.heappop(self._workers))
        finish = start + self.settings.render_seconds
        heapq.heappush(self._workers, finish)
        self._order.append(job)
        self._starts.append(start)
        return start, finish

    def _position(self, job: SimJob, now: float) -> int:
        """1 for the next job to start; counts every job ahead that has not started."""
        index = self._index_of(job)
        not_started_ahead = index - bisect.bisect_right(self._starts, now, 0, index)
        return not_started_ahead + 1

    def _index_of(self, job: SimJob) -> int:
        # start times never decrease along the queue, so search by start time, then scan ties
        index = bisect.bisect_left(self._starts, job.starts_at)
        while self._order[index] is not job:
            index += 1
        return index

    # --- handlers -------------------------------------------------------------------------------

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        self._record(Endpoint.SUBMIT, request, body)
        if (denied := self._authorise(request)) is not None:
            return denied
        fault = await self._take_fault(Endpoint.SUBMIT)
        if isinstance(fault, web.StreamResponse):
            return fault
        problem = validate(body)
        if problem:
            return error(400, "Invalid request parameters", problem)
        prompt = body["prompt"]
        polling = self.settings.result_form is ResultForm.POLLING
        request_id = f"z-image-turbo-834_{uuid.uuid4()}" if polling else str(uuid.uuid4())
        job = SimJob(
            request_id=request_id,
            prompt=prompt,
            image_size=body.get("image_size", "landscape_4_3"),
            num_images=body.get("num_images", 1),
            seed=body["seed"] if isinstance(body.get("seed"), int) else uuid.uuid4().int & 0x7FFFFFFF,
            starts_at=0.0,
            finishes_at=0.0,
            blocked=any(word.lower() in prompt.lower() for word in self.settings.blocked_words),
        )
        job.starts_at, job.finishes_at = self._schedule(job)
        self.jobs[request_id] = job
        log.info("simulator: queued %s (%d images)", request_id, job.num_images)
        webhook = request.headers.get("X-Webhook-URL")
        if webhook and self.settings.webhooks and not self.settings.webhook_drop:
            task = asyncio.create_task(self._call_back(webhook, job))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        if fault is not None and fault.kind is FaultKind.DROP:
            return await drop(request)  # the job exists, the answer is lost
        if polling:
            polling_url = str(request.url.origin().with_path(f"/v2/requests/status/{request_id}"))
            return web.json_response(
                {"request_id": request_id, "status": "QUEUED", "polling_url": polling_url}, status=202
            )
        return web.json_response({"request_id": request_id})

    async def _result_seed(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        self._record(Endpoint.RESULT, request, body)
        request_id = body.get("request_id") if isinstance(body, dict) else None
        return await self._result(request, request_id if isinstance(request_id, str) else None, polling=False)

    async def _result_polling(self, request: web.Request) -> web.StreamResponse:
        self._record(Endpoint.RESULT, request, None)
        return await self._result(request, request.match_info["request_id"], polling=True)

    async def _result(self, request: web.Request, request_id: str | None, *, polling: bool) -> web.StreamResponse:
        if (denied := self._authorise(request)) is not None:
            return denied
        fault = await self._take_fault(Endpoint.RESULT)
        if isinstance(fault, web.StreamResponse):
            return fault
        if fault is not None and fault.kind is FaultKind.DROP:
            return await drop(request)
        if request_id is None:
            return error(400, "Invalid request parameters", "request_id is required")
        job = self.jobs.get(request_id)
        if job is None:
            return error(404, "Request not found")
        if fault is not None and fault.kind is FaultKind.EMPTY_RESULT:
            return web.json_response(completed(request_id, [], polling))
        if fault is not None and fault.kind is FaultKind.SYSTEM_ERROR:
            job.system_error = True
        return web.json_response(self._describe(request, job, polling))

    def _describe(self, request: web.Request, job: SimJob, polling: bool) -> dict[str, Any]:
        now = self._clock()
        rid = job.request_id
        if job.system_error:
            status = "ERROR" if polling else "FAILED"
            return {"status": status, "request_id": rid, "error": SYSTEM_ERROR_MESSAGE}
        if now < job.starts_at:
            if polling:
                return {"status": "QUEUED", "request_id": rid}
            position = self._position(job, now)
            self.positions.setdefault(rid, []).append(position)
            return {"status": "IN_QUEUE", "request_id": rid, "queue_position": position}
        if now < job.finishes_at:
            return {"status": "PROCESSING" if polling else "IN_PROGRESS", "request_id": rid}
        if job.blocked:
            return {"status": "FAILED", "request_id": rid, "error": SAFETY_MESSAGE}
        origin = request.url.origin()
        width, height = IMAGE_SIZES[job.image_size]
        self._ensure_images(job)
        images = [
            {
                "url": str(origin.with_path(f"/_sim/images/{rid}/{index}.png")),
                "width": width,
                "height": height,
                "content_type": "image/png",
            }
            for index in range(job.num_images)
        ]
        return completed(rid, images, polling)

    async def _image(self, request: web.Request) -> web.StreamResponse:
        self._record(Endpoint.IMAGE, request, None)
        fault = await self._take_fault(Endpoint.IMAGE)
        if isinstance(fault, web.StreamResponse):
            return fault
        if fault is not None and fault.kind is FaultKind.DROP:
            return await drop(request)
        job = self.jobs.get(request.match_info["request_id"])
        index = int(request.match_info["index"]) if request.match_info["index"].isdigit() else -1
        if job is None or not job.images or not 0 <= index < len(job.images):
            return error(404, "Image not found")
        data = job.images[index]
        if fault is not None and fault.kind is FaultKind.TRUNCATE:
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            response.content_length = len(data)
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            return await drop(request)
        return web.Response(body=data, content_type="image/png")

    # --- webhooks -------------------------------------------------------------------------------

    async def _call_back(self, url: str, job: SimJob) -> None:
        """Call the submit's webhook when its job ends (after the delay, as often as the settings say)."""
        await asyncio.sleep(max(0.0, job.finishes_at - self._clock() + self.settings.webhook_delay))
        if self._http is None:
            self._http = aiohttp.ClientSession()
        status = "FAILED" if job.blocked else "COMPLETED"
        for _ in range(self.settings.webhook_copies):
            try:
                async with self._http.post(url, json={"request_id": job.request_id, "status": status}) as resp:
                    self.webhook_calls.append((url, time.monotonic(), resp.status))
            except aiohttp.ClientError as exc:
                log.info("simulator: the webhook %s could not be called: %s", url, exc)

    async def _stop_calling_back(self, _: web.Application) -> None:
        for task in list(self._callbacks):
            task.cancel()
        await asyncio.gather(*self._callbacks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    # --- helpers --------------------------------------------------------------------------------

    def _ensure_images(self, job: SimJob) -> list[bytes]:
        if not job.images:
            width, height = IMAGE_SIZES[job.image_size]
            job.images = [
                gradient_png(
                    width,
                    height,
                    (job.seed * 31 + index) ^ (hash(job.request_id) & 0xFFFFFF),
                    label=f"{job.request_id}/{index}",
                )
                for index in range(job.num_images)
            ]
        return job.images

    def _authorise(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("Ocp-Apim-Subscription-Key", "")
        if not key or (self.settings.api_key is not None and key != self.settings.api_key):
            return error(401, "Invalid or missing authentication")
        return None

    async def _take_fault(self, endpoint: Endpoint) -> Fault | web.StreamResponse | None:
        return await answer(self._faults.next(endpoint))

    async def _json_body(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    def _record(self, endpoint: Endpoint, request: web.Request, body: Any) -> None:
        self.requests.append(
            RecordedRequest(endpoint, request.method, request.path, dict(request.headers), body, time.monotonic())
        )
