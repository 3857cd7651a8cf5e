"""The Discord-free services one process shares, and the one function that wires them.

`__main__`, the terminal command, the tests' harness and the job tests all build their services with
`wire` (or `open_services`, which also opens and closes the resources), so every part is put together
the same way and nothing builds a default of its own behind the composition root's back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from bot.appeals import Appeals
from bot.clock import Clock, utc_now
from bot.config import Config
from bot.history import History
from bot.jobs import JobRunner, JobSink, RunnerSettings
from bot.jobs.wakes import Wakes
from bot.ledger import BudgetDefaults, Ledger
from bot.metrics import Metrics, build_metrics
from bot.models import JobOrigin
from bot.moderation import Moderation
from bot.pixazo import DEFAULT_RETRY, PixazoClient, RetryPolicy
from bot.preferences import Preferences
from bot.servers import Servers
from bot.storage import Storage, open_storage
from bot.styles import Styles
from bot.webhooks import WebhookUrls


@dataclass(frozen=True, slots=True)
class Services:
    clock: Clock
    storage: Storage
    ledger: Ledger
    servers: Servers
    moderation: Moderation
    appeals: Appeals
    history: History
    styles: Styles
    preferences: Preferences
    pixazo: PixazoClient
    metrics: Metrics
    runner_settings: RunnerSettings
    webhooks: WebhookUrls | None  # the callback URLs Pixazo is given, when completion by webhook is on
    wakes: Wakes  # how a webhook call reaches the job it is for

    def runner(self, sink: JobSink, origin: JobOrigin) -> JobRunner:
        """The job engine for one sink's jobs."""
        return JobRunner(
            self.storage,
            self.ledger,
            self.servers,
            self.moderation,
            self.pixazo,
            sink,
            self.runner_settings,
            clock=self.clock,
            metrics=self.metrics,
            origin=origin,
            webhooks=self.webhooks if origin is JobOrigin.DISCORD else None,  # the bot's endpoint serves its own
            wakes=self.wakes,
        )


def wire(
    config: Config,
    *,
    http: aiohttp.ClientSession,
    storage: Storage,
    clock: Clock,
    metrics: Metrics,
    retry: RetryPolicy,
) -> Services:
    """Build every service from the settings and the resources they share."""
    defaults = BudgetDefaults(
        price_per_image=config.price_per_image_usd,
        member_daily_limit=config.default_user_daily_limit_usd,
        guild_daily_limit=config.default_guild_daily_limit_usd,
        global_daily_limit=config.global_daily_budget_usd,
    )
    pixazo = PixazoClient(
        http,
        api_key=config.pixazo_api_key,
        base_url=config.pixazo_base_url,
        timeout=config.pixazo_timeout_seconds,
        retry=retry,
        metrics=metrics,
        requests_per_second=config.pixazo_max_requests_per_second,
    )
    webhooks = (
        WebhookUrls(config.pixazo_webhook_url, config.webhook_secret)
        if config.pixazo_webhook_url and config.webhook_secret
        else None
    )
    return Services(
        clock=clock,
        storage=storage,
        ledger=Ledger(storage, defaults, clock),
        servers=Servers(storage, clock),
        moderation=Moderation(storage, clock, auto_block_after=config.auto_block_after),
        appeals=Appeals(storage, clock),
        history=History(storage),
        styles=Styles(storage, clock),
        preferences=Preferences(storage, clock, config.image_sizes),
        pixazo=pixazo,
        metrics=metrics,
        runner_settings=RunnerSettings.from_config(config),
        webhooks=webhooks,
        wakes=Wakes(),
    )


@asynccontextmanager
async def open_services(
    config: Config, *, clock: Clock = utc_now, retry: RetryPolicy = DEFAULT_RETRY, serve_metrics: bool = False
) -> AsyncIterator[Services]:
    """The services with their resources (the HTTP session, the database) open; closed when the block ends.

    Metrics are served only where asked (`run`), so `check`, `sync` and `imagine` never take the port.
    """
    metrics = build_metrics(config.metrics_port if serve_metrics else None, config.metrics_host)
    # Every job at Pixazo may have a call in flight: keep a connection for each, not the default hundred.
    connector = aiohttp.TCPConnector(limit=config.max_active_jobs + 50, keepalive_timeout=60)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        open_storage(config.database_url, lease_seconds=config.job_lease_seconds) as storage,
    ):
        yield wire(config, http=http, storage=storage, clock=clock, metrics=metrics, retry=retry)
