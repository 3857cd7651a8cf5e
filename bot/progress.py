"""How a job is getting on, in a form both sinks (Discord, the terminal) can show.

The estimate of when a job starts comes from the planner's model of the queue (`bot.jobs.planner`).
`describe` turns a `Progress` into one line of plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.models import FailureKind


class Stage(StrEnum):
    WAITING = "waiting"  # in the bot's own queue, behind the caps
    SUBMITTING = "submitting"
    QUEUED = "queued"  # in Pixazo's queue
    RENDERING = "rendering"
    DELIVERING = "delivering"


@dataclass(frozen=True, slots=True)
class Progress:
    stage: Stage
    position: int | None = None  # in Pixazo's queue, or in the bot's own while waiting
    moved: int | None = None  # places gained since the last position (positive: moving up)
    starts_in: float | None = None  # seconds until it should start rendering, when the queue's speed is known
    ends_in: float | None = None  # seconds until its images should exist, when the model can tell


def describe(progress: Progress, *, with_eta: bool = True) -> str:
    """``Queued, position 3 (up 2) · about 40 s to start``, ``Rendering…``, and so on.

    Without `with_eta`, the line leaves the estimate out (Discord shows it as a timestamp that counts down).
    """
    if progress.stage is Stage.WAITING:
        where = f", number {progress.position} in the bot's queue" if progress.position else ""
        return f"Waiting for a free slot{where}…"
    if progress.stage is Stage.SUBMITTING:
        return "Sending your prompt…"
    if progress.stage is Stage.RENDERING:
        return "Rendering…"
    if progress.stage is Stage.DELIVERING:
        return "Fetching your image…"
    line = "Queued" if progress.position is None else f"Queued, position {progress.position}"
    if progress.moved:
        line += f" (up {progress.moved})" if progress.moved > 0 else f" (down {-progress.moved})"
    if with_eta and progress.starts_in is not None:
        line += f" · about {_duration(progress.starts_in)} to start"
    return line


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def failure_sentence(kind: FailureKind | None, reason: str | None, *, charged: bool) -> str:
    """What to tell the member, privately, about a job that failed."""
    money = "It was counted against your budget." if charged else "You were not charged."
    if kind is FailureKind.SAFETY:
        detail = f" ({reason.rstrip('.')})" if reason else ""
        return f"Your prompt did not pass the image service's safety check{detail}. {money}"
    if kind is FailureKind.BALANCE:
        return f"The bot's image balance has run out; the operator has been told. {money}"
    if kind is FailureKind.BUSY:
        return f"The image service is too busy right now; try again in a minute. {money}"
    if kind is FailureKind.INTERRUPTED:
        return (
            "The connection to the image service broke while your request was being sent, so it may have been "
            "billed; it was counted and will not be sent twice."
        )
    if kind is FailureKind.TIMEOUT:
        return f"Your image took too long and timed out. {money}"
    if kind is FailureKind.WAITED:
        return f"Your request waited too long behind your other images and was never sent. {money}"
    if kind is FailureKind.ABANDONED:
        if charged:
            return (
                "The request was stopped before it finished; it was counted against your budget, "
                "since the image service may have made it."
            )
        return "The request was stopped before it was sent. You were not charged."
    if kind is FailureKind.DELIVERY:
        return f"Your image was made but could not be fetched or posted. {money}"
    return f"The image service could not make this image. {money}"
