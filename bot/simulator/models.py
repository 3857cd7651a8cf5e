"""The simulator's vocabulary: its settings, the faults it can inject, and the jobs and requests it keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

BASE_PATH = "/z-image-turbo-834/v1"
SAFETY_MESSAGE = "Prompt failed safety check. Please refine your input."
SYSTEM_ERROR_MESSAGE = "An unexpected error occurred, please try again later"
# Both vocabularies the API has used for sizes, with the dimensions each renders at.
IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "square_1_1": (1024, 1024),
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_3_4": (768, 1024),
    "portrait_4_3": (768, 1024),
    "portrait_9_16": (576, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


class ResultForm(StrEnum):
    SEED = "seed"  # POST …/z-image-turbo-request-result, IN_QUEUE/IN_PROGRESS/COMPLETED/FAILED
    POLLING = "polling"  # 202 with polling_url, GET it: QUEUED/PROCESSING/COMPLETED/FAILED/ERROR


class Endpoint(StrEnum):
    SUBMIT = "submit"
    RESULT = "result"
    IMAGE = "image"


class FaultKind(StrEnum):
    STATUS = "status"  # answer `status` (with Retry-After for 429 when given)
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELDS = "missing_fields"
    SLOW = "slow"  # wait `delay` seconds, then answer normally
    DROP = "drop"  # close the connection without answering
    TRUNCATE = "truncate"  # images: send half the bytes of a full Content-Length
    EMPTY_RESULT = "empty_result"  # result: COMPLETED with no images
    SYSTEM_ERROR = "system_error"  # result: the job ended in the API's own error


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class StandingFault:
    """A fault that hits `rate` of the calls to `endpoints` for as long as the simulator runs."""

    fault: Fault
    endpoints: tuple[Endpoint, ...]
    rate: float = 1.0


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    api_key: str | None = None  # None accepts any non-empty key; a missing key is always 401
    result_form: ResultForm = ResultForm.SEED
    render_seconds: float = 1.0
    concurrency: int = 1
    queue_depth: int = 0  # a backlog of other customers' jobs queued at start
    blocked_words: tuple[str, ...] = ("forbidden",)
    webhooks: bool = True  # call a submit's X-Webhook-URL when its job ends, as Pixazo's webhook form does
    webhook_delay: float = 0.0  # seconds after the job ends
    webhook_copies: int = 1  # how many times each call is made (2: every call duplicated)
    webhook_drop: bool = False  # make no calls at all, as if they were lost on the way
    standing_faults: tuple[StandingFault, ...] = ()  # on top of the faults a test injects for the next calls
    seed: int | None = None  # for which calls a standing fault's rate picks; None: different each run


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    endpoint: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when it arrived


@dataclass(slots=True)
class SimJob:
    request_id: str
    prompt: str
    image_size: str
    num_images: int
    seed: int
    starts_at: float
    finishes_at: float
    blocked: bool
    system_error: bool = False
    images: list[bytes] = field(default_factory=list)
