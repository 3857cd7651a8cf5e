"""`python -m bot simulate`: the simulator on 127.0.0.1, with its queue and its faults set from flags."""

from __future__ import annotations

import argparse

from bot.simulator.models import (
    Endpoint,
    Fault,
    FaultKind,
    ResultForm,
    SimulatorSettings,
    StandingFault,
)

_CALLS = (Endpoint.SUBMIT, Endpoint.RESULT)  # the API calls proper, as opposed to image downloads
_DEFAULTS = SimulatorSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="where to listen")
    parser.add_argument("--port", type=int, default=8642, help="the port to listen on")
    parser.add_argument(
        "--api-key", default=None, metavar="KEY", help="the only key accepted (default: any non-empty key)"
    )
    parser.add_argument(
        "--result-form",
        choices=[form.value for form in ResultForm],
        default=ResultForm.SEED.value,
        help="seed: POST …-request-result; polling: 202 with a polling_url",
    )
    queue = parser.add_argument_group("the queue")
    queue.add_argument(
        "--render-seconds",
        type=float,
        default=_DEFAULTS.render_seconds,
        metavar="SECONDS",
        help="how long a job renders",
    )
    queue.add_argument(
        "--concurrency", type=int, default=_DEFAULTS.concurrency, metavar="N", help="jobs rendering at once"
    )
    queue.add_argument("--queue-depth", type=int, default=0, metavar="N", help="other customers' jobs queued at start")
    queue.add_argument(
        "--blocked-word",
        action="append",
        default=None,
        metavar="WORD",
        help=f"a word that fails the safety check; repeatable (default: {', '.join(_DEFAULTS.blocked_words)})",
    )
    faults = parser.add_argument_group("faults, to rehearse an outage", "Each hits --fail-rate of the calls it names.")
    faults.add_argument(
        "--fail-status",
        type=int,
        default=None,
        metavar="STATUS",
        help="submit and result calls answer this HTTP status: 402 (balance), 429 (rate limit), 500…",
    )
    faults.add_argument("--retry-after", type=float, default=None, metavar="SECONDS", help="sent with --fail-status")
    faults.add_argument("--slow", type=float, default=0.0, metavar="SECONDS", help="every call waits this long first")
    faults.add_argument("--drop", action="store_true", help="submit and result calls lose their answer")
    faults.add_argument("--malformed-json", action="store_true", help="submit and result answers are cut short")
    faults.add_argument("--missing-fields", action="store_true", help="submit and result answers lack their fields")
    faults.add_argument("--empty-results", action="store_true", help="finished jobs report no images")
    faults.add_argument("--system-errors", action="store_true", help="jobs end in the API's own error (ERROR)")
    faults.add_argument("--truncate-images", action="store_true", help="image downloads stop halfway")
    faults.add_argument(
        "--fail-rate", type=float, default=1.0, metavar="FRACTION", help="the share of calls each fault hits"
    )
    faults.add_argument(
        "--seed", type=int, default=None, help="makes --fail-rate pick the same calls each run (default: random)"
    )
    hooks = parser.add_argument_group("webhooks (a submit's X-Webhook-URL)")
    hooks.add_argument("--webhook-delay", type=float, default=0.0, metavar="SECONDS", help="late calls")
    hooks.add_argument("--webhook-copies", type=int, default=1, metavar="N", help="each call made N times")
    hooks.add_argument("--drop-webhooks", action="store_true", help="no calls at all, as if lost on the way")


def settings_from(args: argparse.Namespace) -> SimulatorSettings:
    return SimulatorSettings(
        api_key=args.api_key,
        result_form=ResultForm(args.result_form),
        render_seconds=args.render_seconds,
        concurrency=args.concurrency,
        queue_depth=args.queue_depth,
        blocked_words=tuple(args.blocked_word) if args.blocked_word else _DEFAULTS.blocked_words,
        webhook_delay=args.webhook_delay,
        webhook_copies=args.webhook_copies,
        webhook_drop=args.drop_webhooks,
        standing_faults=tuple(_standing_faults(args)),
        seed=args.seed,
    )


def _standing_faults(args: argparse.Namespace) -> list[StandingFault]:
    wanted: list[tuple[Fault, tuple[Endpoint, ...]]] = []
    if args.fail_status is not None:
        wanted.append((Fault(FaultKind.STATUS, status=args.fail_status, retry_after=args.retry_after), _CALLS))
    switches = {
        FaultKind.DROP: (args.drop, _CALLS),
        FaultKind.MALFORMED_JSON: (args.malformed_json, _CALLS),
        FaultKind.MISSING_FIELDS: (args.missing_fields, _CALLS),
        FaultKind.EMPTY_RESULT: (args.empty_results, (Endpoint.RESULT,)),
        FaultKind.SYSTEM_ERROR: (args.system_errors, (Endpoint.RESULT,)),
        FaultKind.TRUNCATE: (args.truncate_images, (Endpoint.IMAGE,)),
    }
    wanted += [(Fault(kind), endpoints) for kind, (on, endpoints) in switches.items() if on]
    if args.slow:  # last: a call that meets another fault is answered by that one at once
        wanted.append((Fault(FaultKind.SLOW, delay=args.slow), tuple(Endpoint)))
    return [StandingFault(fault, endpoints, rate=args.fail_rate) for fault, endpoints in wanted]
