"""`python -m bot imagine`: the job runner with a progress line in the terminal instead of Discord."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.errors import InvalidRequestError
from bot.models import Job, PendingInteraction, Usage
from bot.moderation import Failure
from bot.pixazo import DownloadedImage
from bot.progress import Progress, describe, failure_sentence

_DISCORD_TIME = re.compile(r"<t:(\d+):\w>")


def plain(text: str) -> str:
    """A sentence meant for Discord, with its timestamps written out for a terminal."""
    return _DISCORD_TIME.sub(lambda m: datetime.fromtimestamp(int(m[1]), UTC).strftime("%Y-%m-%d %H:%M UTC"), text)


def check_writable(output: Path) -> None:
    """Refuse, before anything is spent, an output the image could not be saved to."""
    if output.is_dir():
        raise InvalidRequestError(f"{output} is a folder; give a file name to save the image as.")
    folder = output.parent
    if not folder.is_dir():
        raise InvalidRequestError(f"{output} cannot be written: the folder {folder} does not exist.")
    existed = output.exists()
    try:
        with output.open("ab"):
            pass
    except OSError as exc:
        raise InvalidRequestError(f"{output} cannot be written: {exc.strerror or exc}.") from None
    if not existed:
        output.unlink()


class TerminalSink:
    """Shows one job's progress on a single updating line and writes its images next to `output`."""

    def __init__(self, output: Path, stream: TextIO = sys.stderr) -> None:
        self.output = output
        self.stream = stream
        self.job_id: int | None = None  # the job of this run; others are an earlier run's, settled now
        self.written: list[Path] = []
        self._line_open = False  # a progress line is on the terminal without its newline

    async def progress(self, job: Job, progress: Progress) -> None:
        self._line(describe(progress))

    async def hand_off(self, job: Job) -> int | None:
        return None

    async def deliver(self, job: Job, images: Sequence[DownloadedImage], usage: Usage) -> None:
        for index, image in enumerate(images, start=1):
            path = self.output if index == 1 else self.output.with_stem(f"{self.output.stem}-{index}")
            path.write_bytes(image.data)
            self.written.append(path)
        cost = job.unit_price * len(images)
        self._line(f"Saved {', '.join(map(str, self.written))} · {cost} · {usage.left} left today", end="\n")

    async def delivered_images(self, job: Job) -> int | None:
        return 0

    async def reported(self, failure: Failure) -> None:
        return None  # no moderators in a terminal

    async def never_started(self, pending: PendingInteraction) -> None:
        return None  # a terminal run has no interactions

    async def fail(self, job: Job, *, charged: bool, usage: Usage) -> None:
        sentence = plain(failure_sentence(job.failure_kind, job.failure_reason, charged=charged))
        if job.id != self.job_id:
            sentence = f"An earlier run's job {job.id} (“{job.request.prompt[:40]}”): {sentence}"
        self._line(sentence, end="\n")

    def make_room(self, _: object = None) -> bool:
        """End the progress line so that what comes next (a log record) starts a line of its own.

        A logging filter: it lets every record through.
        """
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False
        return True

    def _line(self, text: str, end: str = "") -> None:
        if self.stream.isatty():
            self.stream.write("\r\033[K" + text + end)  # rewrite the one progress line
            self._line_open = not end
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
