"""Jobs: the lifecycle runner, what it reports to, its settings, and the checks that let a job in."""

from bot.jobs.admission import admit
from bot.jobs.runner import JobRunner
from bot.jobs.settings import RunnerSettings
from bot.jobs.sink import DeliveryError, JobMessages, JobSink

__all__ = ["DeliveryError", "JobMessages", "JobRunner", "JobSink", "RunnerSettings", "admit"]
