"""Settings, read from the environment in one place and validated all at once.

`Config.from_env` collects every problem before it raises, so an operator fixes their `.env` in
one go. Secrets are `Secret`s: they never show in `repr`, and no error repeats a value of theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from bot import setting_values as parsers
from bot.errors import ConfigError, InvalidAmountError
from bot.money import Money
from bot.storage.urls import check_database_url, is_postgres_url, shown, sqlite_path, without_credentials

T = TypeVar("T")

DEFAULT_BASE_URL = "https://gateway.pixazo.ai/z-image-turbo-834/v1"

# The /imagine size choices (part of the slash command, so fixed) and the Pixazo size each asks for by default.
DEFAULT_IMAGE_SIZES = {
    "square": "square_1_1",
    "portrait": "portrait_3_4",
    "landscape": "landscape_4_3",
    "wide": "landscape_16_9",
    "tall": "portrait_9_16",
}
IMAGE_SIZE_NAMES = tuple(DEFAULT_IMAGE_SIZES)


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
class Config:
    """Everything the bot reads from its environment. Field names are the variables, lower-cased."""

    discord_token: Secret
    pixazo_api_key: Secret
    pixazo_base_url: str = DEFAULT_BASE_URL
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None
    discord_login_timeout_seconds: float = 30.0
    database_url: str = field(default="sqlite:///data/imagine.db", repr=False)  # may hold a password
    price_per_image_usd: Money = Money(8_000)
    default_user_daily_limit_usd: Money = Money(80_000)
    default_guild_daily_limit_usd: Money | None = None
    global_daily_budget_usd: Money | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    image_sizes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_IMAGE_SIZES))
    pixazo_output_format: str = "png"
    pixazo_inference_steps: int = 8
    pixazo_timeout_seconds: float = 30.0
    member_max_jobs: int = 2
    member_queue_size: int = 3
    max_active_jobs: int = 500
    pixazo_max_requests_per_second: float = 200.0
    job_timeout_minutes: float = 30.0
    queue_timeout_minutes: float = 30.0
    job_lease_seconds: float = 15.0
    poll_min_seconds: float = 0.5
    poll_max_seconds: float = 30.0
    max_image_mb: float = 25.0
    auto_block_after: int = 3
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from outside the container; 127.0.0.1 outside one
    pixazo_webhook_url: str | None = None
    webhook_port: int | None = None
    webhook_secret: Secret | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None

    @property
    def database_path(self) -> Path | None:
        """The SQLite file, or None when the database is a PostgreSQL server."""
        return None if is_postgres_url(self.database_url) else sqlite_path(self.database_url)

    @property
    def database_shown(self) -> str:
        """DATABASE_URL as logs and `check` show it, its password masked."""
        return shown(self.database_url)

    @property
    def max_image_bytes(self) -> int:
        return int(self.max_image_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, discord: bool = True) -> Config:
        """The settings, or `ConfigError` naming every problem. ``discord=False`` is for the commands that never
        talk to Discord (`imagine`): DISCORD_TOKEN may be missing there."""
        reader = _Reader(env)
        values: dict[str, Any] = {
            "discord_token": reader.secret("DISCORD_TOKEN") if discord else reader.optional_token("DISCORD_TOKEN"),
            "pixazo_api_key": reader.secret("PIXAZO_API_KEY"),
            "pixazo_base_url": reader.get("PIXAZO_BASE_URL", parsers.http_url),
            "discord_api_base_url": reader.get("DISCORD_API_BASE_URL", parsers.url_without_credentials),
            "discord_gateway_url": reader.get("DISCORD_GATEWAY_URL", parsers.ws_url),
            "discord_login_timeout_seconds": reader.get(
                "DISCORD_LOGIN_TIMEOUT_SECONDS", parsers.number_between(0.1, 600)
            ),
            "database_url": reader.get("DATABASE_URL", check_database_url),
            "price_per_image_usd": reader.get("PRICE_PER_IMAGE_USD", parsers.positive_money),
            "default_user_daily_limit_usd": reader.get("DEFAULT_USER_DAILY_LIMIT_USD", parsers.money),
            "default_guild_daily_limit_usd": reader.get("DEFAULT_GUILD_DAILY_LIMIT_USD", parsers.money),
            "global_daily_budget_usd": reader.get("GLOBAL_DAILY_BUDGET_USD", parsers.money),
            "log_level": reader.get("LOG_LEVEL", parsers.log_level),
            "log_format": reader.get("LOG_FORMAT", parsers.choice("text", "json")),
            "image_sizes": reader.get("IMAGE_SIZES", _size_map),
            "pixazo_output_format": reader.get("PIXAZO_OUTPUT_FORMAT", parsers.choice("png", "jpeg", "webp")),
            "pixazo_inference_steps": reader.get("PIXAZO_INFERENCE_STEPS", parsers.int_between(1, 50)),
            "pixazo_timeout_seconds": reader.get("PIXAZO_TIMEOUT_SECONDS", parsers.number_between(1, 300)),
            "member_max_jobs": reader.get("MEMBER_MAX_JOBS", parsers.int_between(1, 20)),
            "member_queue_size": reader.get("MEMBER_QUEUE_SIZE", parsers.int_between(0, 20)),
            "max_active_jobs": reader.get("MAX_ACTIVE_JOBS", parsers.int_between(1, 10_000)),
            "pixazo_max_requests_per_second": reader.get(
                "PIXAZO_MAX_REQUESTS_PER_SECOND", parsers.number_between(1, 10_000)
            ),
            "job_timeout_minutes": reader.get("JOB_TIMEOUT_MINUTES", parsers.number_between(0.05, 24 * 60)),
            "queue_timeout_minutes": reader.get("QUEUE_TIMEOUT_MINUTES", parsers.number_between(0.05, 24 * 60)),
            "job_lease_seconds": reader.get("JOB_LEASE_SECONDS", parsers.number_between(1, 600)),
            "poll_min_seconds": reader.get("POLL_MIN_SECONDS", parsers.number_between(0.05, 60)),
            "poll_max_seconds": reader.get("POLL_MAX_SECONDS", parsers.number_between(0.05, 300)),
            "max_image_mb": reader.get("MAX_IMAGE_MB", parsers.number_between(0.01, 100)),
            "auto_block_after": reader.get("AUTO_BLOCK_AFTER", parsers.int_between(0, 100)),
            "metrics_port": reader.get("METRICS_PORT", parsers.int_between(1, 65535)),
            "metrics_host": reader.get("METRICS_HOST", parsers.host),
            "pixazo_webhook_url": reader.get("PIXAZO_WEBHOOK_URL", parsers.http_url),
            "webhook_port": reader.get("WEBHOOK_PORT", parsers.int_between(1, 65535)),
            "webhook_secret": reader.optional_secret("WEBHOOK_SECRET", min_length=16),
            "shard_count": reader.get("SHARD_COUNT", parsers.int_between(1, 100_000)),
            "shard_ids": reader.get("SHARD_IDS", parsers.id_ranges),
        }
        if reader.problems:
            raise ConfigError(reader.problems)
        config = cls(**{name: value for name, value in values.items() if value is not None})
        problems = []
        if config.poll_min_seconds > config.poll_max_seconds:
            problems.append("POLL_MIN_SECONDS must not be larger than POLL_MAX_SECONDS")
        if config.pixazo_webhook_url and (config.webhook_port is None or config.webhook_secret is None):
            problems.append("PIXAZO_WEBHOOK_URL needs WEBHOOK_PORT (where the bot listens) and WEBHOOK_SECRET")
        if config.shard_ids is not None:
            if config.shard_count is None:
                problems.append("SHARD_IDS needs SHARD_COUNT, the number of shards across every process")
            elif (highest := max(config.shard_ids)) >= config.shard_count:
                problems.append(f"SHARD_IDS names shard {highest}, but SHARD_COUNT makes 0 to {config.shard_count - 1}")
        if problems:
            raise ConfigError(problems)
        return config

    @classmethod
    def variables(cls) -> list[str]:
        """Every environment variable the bot reads, in the order of the fields."""
        return [f.name.upper() for f in fields(cls)]


class _Reader:
    """Reads variables, collecting problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def secret(self, name: str) -> Secret | None:
        value = self._env.get(name, "").strip()
        if not value:
            self.problems.append(f"{name} is missing")
            return None
        if any(ch.isspace() for ch in value):
            self.problems.append(f"{name} contains white space")  # the value itself is never repeated
            return None
        return Secret(value)

    def optional_token(self, name: str) -> Secret | None:
        """A secret that may be missing: empty when it is (and None, with a problem, when it is malformed)."""
        return self.secret(name) if self._env.get(name, "").strip() else Secret("")

    def optional_secret(self, name: str, *, min_length: int) -> Secret | None:
        value = self._env.get(name, "").strip()
        if not value:
            return None
        if len(value) < min_length or any(ch.isspace() for ch in value):
            self.problems.append(f"{name} must be at least {min_length} characters without white space")
            return None
        return Secret(value)

    def get(self, name: str, parse: Callable[[str], T]) -> T | None:
        raw = self._env.get(name, "").strip()
        if not raw:
            return None
        try:
            return parse(raw)
        except (ValueError, InvalidAmountError) as exc:
            self.problems.append(f"{name} {exc} (got {without_credentials(raw)!r})")
            return None


def _size_map(raw: str) -> dict[str, str]:
    """``square=square_hd,wide=landscape_16_9``: the API size each /imagine choice asks for.

    The choices themselves are fixed (they are part of the slash command); choices not named keep
    their default.
    """
    sizes = dict(DEFAULT_IMAGE_SIZES)
    for pair in raw.split(","):
        name, sep, api_name = pair.partition("=")
        name = name.strip().lower()
        if not sep or not api_name.strip():
            raise ValueError("must be a comma-separated list of choice=api_size pairs")
        if name not in DEFAULT_IMAGE_SIZES:
            raise ValueError("names choices that /imagine does not offer; use " + ", ".join(DEFAULT_IMAGE_SIZES))
        sizes[name] = api_name.strip()
    return sizes
