"""Frozen dataclasses and enums shared by the layers. Rows and JSON become these at the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(self.content_type, "png")


class Secret:
    """A string that never shows itself in `repr`, `str`, logs or tracebacks. Call `reveal()` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


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
