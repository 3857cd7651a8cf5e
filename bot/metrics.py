"""Optional Prometheus metrics (``METRICS_PORT``; install the ``metrics`` extra).

The core reports to a `Metrics` object; the default one does nothing, so nothing depends on
prometheus_client unless the operator asks for it.
"""

from __future__ import annotations

import logging

from bot.errors import StartupError
from bot.money import Money
from bot.startup import port_problem

log = logging.getLogger(__name__)


class Metrics:
    """Does nothing: what the bot reports to when metrics are off."""

    def pixazo_call(self, call: str, seconds: float, error: str | None) -> None:
        """One call to Pixazo (after its retries): how long it took, and the error kind if it failed."""

    def job_ended(self, state: str, images: int, charged: Money) -> None:
        """A job reached a final state."""

    def jobs_in_flight(self, active: int, waiting: int) -> None:
        """Jobs at Pixazo now, and jobs waiting in the bot's own queue."""


NO_METRICS = Metrics()


class PrometheusMetrics(Metrics):
    def __init__(self, port: int, host: str) -> None:
        import prometheus_client as prom

        registry = prom.CollectorRegistry()
        self._calls = prom.Histogram(
            "imagine_pixazo_request_seconds",
            "Pixazo call latency, retries included",
            ["call"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self._errors = prom.Counter(
            "imagine_pixazo_errors", "Pixazo calls that failed, by kind", ["kind"], registry=registry
        )
        self._jobs = prom.Counter("imagine_jobs_ended", "Jobs that reached a final state", ["state"], registry=registry)
        self._images = prom.Counter("imagine_images_delivered", "Images delivered to members", registry=registry)
        self._spend = prom.Counter(
            "imagine_spend_microdollars", "Money charged to budgets, in micro-dollars", registry=registry
        )
        self._active = prom.Gauge("imagine_jobs_active", "Jobs being polled at Pixazo", registry=registry)
        self._waiting = prom.Gauge("imagine_jobs_waiting", "Jobs waiting in the bot's own queue", registry=registry)
        prom.start_http_server(port, addr=host, registry=registry)
        log.info("metrics on http://%s:%d/metrics", host, port)

    def pixazo_call(self, call: str, seconds: float, error: str | None) -> None:
        self._calls.labels(call).observe(seconds)
        if error is not None:
            self._errors.labels(error).inc()

    def job_ended(self, state: str, images: int, charged: Money) -> None:
        self._jobs.labels(state).inc()
        self._images.inc(images)
        self._spend.inc(charged.micros)  # Prometheus counts plain numbers: micro-dollars, as the name says

    def jobs_in_flight(self, active: int, waiting: int) -> None:
        self._active.set(active)
        self._waiting.set(waiting)


def build_metrics(port: int | None, host: str) -> Metrics:
    if not port:
        return Metrics()
    try:
        return PrometheusMetrics(port, host)
    except ImportError:
        raise StartupError("METRICS_PORT needs prometheus-client: pip install '.[metrics]', or unset it.") from None
    except OSError as exc:
        raise port_problem("METRICS_PORT", port, exc) from None
