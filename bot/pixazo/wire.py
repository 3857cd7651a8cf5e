"""What the Pixazo API sends and receives, as typed values: the client turns JSON into these and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

MAX_IMAGES = 4  # Pixazo renders 1 to 4 images a request (`num_images`); the bot offers the same


class UpstreamState(StrEnum):
    """Where Pixazo says a request is, whichever of its two vocabularies it used."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    request_id: str
    polling_url: str | None = None


@dataclass(frozen=True, slots=True)
class UpstreamImage:
    url: str
    width: int | None = None
    height: int | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """One poll's answer.

    `queue_position` is set only while queued and only when the API gave it. For a failure,
    `reason` is the API's text; `safety` says the safety checker refused the prompt, and
    `system_error` says the API called it its own fault (documented as not charged).
    """

    state: UpstreamState
    queue_position: int | None = None
    images: tuple[UpstreamImage, ...] = ()
    reason: str | None = None
    safety: bool = False
    system_error: bool = False


@dataclass(frozen=True, slots=True)
class DownloadedImage:
    data: bytes = field(repr=False)
    content_type: str
    url: str = ""

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(self.content_type, "png")


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What the bot asks Pixazo to render. `seed` is sent only when the member chose one."""

    prompt: str
    image_size: str
    num_images: int = 1
    seed: int | None = None
    output_format: str = "png"
    num_inference_steps: int = 8
    enable_safety_checker: bool = True

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "prompt": self.prompt,
            "image_size": self.image_size,
            "num_inference_steps": self.num_inference_steps,
            "num_images": self.num_images,
            "enable_safety_checker": self.enable_safety_checker,
            "output_format": self.output_format,
            "acceleration": "none",
        }
        if self.seed is not None:
            body["seed"] = self.seed
        return body
