"""The runner's knobs, from the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    member_max_jobs: int = 2
    member_queue_size: int = 3
    max_active_jobs: int = 500  # the ceiling: below it, the capacity Pixazo's answers allow
    job_timeout_seconds: float = 30 * 60  # from the submit on: Pixazo's queue and rendering
    queue_timeout_seconds: float = 30 * 60  # in the bot's own queue, before anything is sent
    poll_min_seconds: float = 0.5
    poll_max_seconds: float = 30.0
    max_image_bytes: int = 25 * 1024 * 1024
    hand_off_margin_seconds: float = 60.0
    inference_steps: int = 8
    max_poll_errors: int = 8

    @classmethod
    def from_config(cls, config: Config) -> RunnerSettings:
        return cls(
            member_max_jobs=config.member_max_jobs,
            member_queue_size=config.member_queue_size,
            max_active_jobs=config.max_active_jobs,
            job_timeout_seconds=config.job_timeout_minutes * 60,
            queue_timeout_seconds=config.queue_timeout_minutes * 60,
            poll_min_seconds=config.poll_min_seconds,
            poll_max_seconds=config.poll_max_seconds,
            max_image_bytes=config.max_image_bytes,
            inference_steps=config.pixazo_inference_steps,
        )
