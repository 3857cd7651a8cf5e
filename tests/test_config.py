from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import DEFAULT_IMAGE_SIZES, Config
from bot.errors import ConfigError
from bot.money import Money
from bot.storage.urls import sqlite_path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.secret-token-value"
KEY = "pixazo-secret-key-0123456789"
REQUIRED = {"DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": KEY}


def test_defaults_follow_the_design() -> None:
    config = Config.from_env(REQUIRED)
    assert config.discord_token.reveal() == TOKEN
    assert config.pixazo_api_key.reveal() == KEY
    assert config.pixazo_base_url == "https://gateway.pixazo.ai/z-image-turbo-834/v1"
    assert config.discord_api_base_url == "https://discord.com/api/v10"
    assert config.discord_gateway_url is None
    assert config.database_path == Path("data/imagine.db")
    assert config.price_per_image_usd == Money(8_000)
    assert config.default_user_daily_limit_usd == Money(80_000)
    assert config.default_guild_daily_limit_usd is None
    assert config.global_daily_budget_usd is None
    assert config.log_level == "INFO"
    assert dict(config.image_sizes) == DEFAULT_IMAGE_SIZES
    assert config.member_max_jobs == 2
    assert config.job_timeout_minutes == 30


def test_values_are_read_and_converted() -> None:
    config = Config.from_env(
        REQUIRED
        | {
            "PRICE_PER_IMAGE_USD": "0.01",
            "GLOBAL_DAILY_BUDGET_USD": "$25",
            "LOG_LEVEL": "debug",
            "DATABASE_URL": "sqlite:////var/lib/imagine/db.sqlite",
            "IMAGE_SIZES": "square=square_hd, wide=landscape_16_9",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9000",
            "PIXAZO_BASE_URL": "http://127.0.0.1:8642/z-image-turbo-834/v1/",
        }
    )
    assert config.price_per_image_usd == Money(10_000)
    assert config.global_daily_budget_usd == Money(25_000_000)
    assert config.log_level == "DEBUG"
    assert config.database_path == Path("/var/lib/imagine/db.sqlite")
    assert dict(config.image_sizes) == DEFAULT_IMAGE_SIZES | {"square": "square_hd", "wide": "landscape_16_9"}
    assert config.pixazo_base_url == "http://127.0.0.1:8642/z-image-turbo-834/v1"


def test_every_problem_is_reported_at_once_naming_each_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(
            {
                "PIXAZO_API_KEY": "",
                "PRICE_PER_IMAGE_USD": "cheap",
                "DEFAULT_USER_DAILY_LIMIT_USD": "0.0000001",
                "DATABASE_URL": "mysql://x",
                "LOG_LEVEL": "LOUD",
                "MEMBER_MAX_JOBS": "many",
                "DISCORD_API_BASE_URL": "discord.com",
                "IMAGE_SIZES": "huge=square_hd",
            }
        )
    text = str(caught.value)
    for name in (
        "DISCORD_TOKEN",
        "PIXAZO_API_KEY",
        "PRICE_PER_IMAGE_USD",
        "DEFAULT_USER_DAILY_LIMIT_USD",
        "DATABASE_URL",
        "LOG_LEVEL",
        "MEMBER_MAX_JOBS",
        "DISCORD_API_BASE_URL",
        "IMAGE_SIZES",
    ):
        assert name in text
    assert len(caught.value.problems) == 9
    assert "\n" not in text  # one readable line


def test_secrets_never_show_in_repr_or_errors() -> None:
    config = Config.from_env(REQUIRED)
    assert TOKEN not in repr(config)
    assert KEY not in repr(config)
    assert TOKEN not in str(config)
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"DISCORD_TOKEN": "has space " + TOKEN, "PIXAZO_API_KEY": KEY, "LOG_LEVEL": "x"})
    assert TOKEN not in str(caught.value)
    assert KEY not in str(caught.value)


def test_env_example_lists_every_setting_with_a_comment() -> None:
    example = (ROOT / ".env.example").read_text()
    lines = example.splitlines()
    listed = {m[1] for m in (re.match(r"([A-Z0-9_]+)=", line) for line in lines) if m}
    assert set(Config.variables()) == listed
    for index, line in enumerate(lines):
        if re.match(r"[A-Z0-9_]+=", line):
            assert lines[index - 1].startswith("# "), f"{line} has no comment above it"


def test_env_example_defaults_are_valid() -> None:
    example = (ROOT / ".env.example").read_text()
    env = dict(line.split("=", 1) for line in example.splitlines() if re.match(r"[A-Z0-9_]+=", line))
    assert Config.from_env(env | REQUIRED) == Config.from_env(REQUIRED)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/imagine.db", Path("data/imagine.db")),
        ("sqlite:////srv/imagine/x.db", Path("/srv/imagine/x.db")),
    ],
)
def test_database_urls_are_read_as_sqlalchemy_writes_them(url: str, path: Path) -> None:
    assert sqlite_path(url) == path


def test_metrics_listen_where_the_operator_says() -> None:
    assert Config.from_env(REQUIRED).metrics_host == "0.0.0.0"  # noqa: S104 - the default, for containers
    assert Config.from_env(REQUIRED | {"METRICS_HOST": "127.0.0.1"}).metrics_host == "127.0.0.1"
    with pytest.raises(ConfigError, match="METRICS_HOST"):
        Config.from_env(REQUIRED | {"METRICS_HOST": "http://0.0.0.0"})


def test_env_example_leaves_the_database_to_the_default() -> None:
    example = (ROOT / ".env.example").read_text()
    assert "\nDATABASE_URL=\n" in example  # so `docker run --env-file .env` keeps the image's /data


PASSWORD_URLS = [
    "postgresql://imagine:hunter2@db/imagine",
    "postgres://imagine:hunter2@/imagine?host=/run/postgresql",
    "postgresql://imagine:hun@ter2@db/imagine",  # an @ the operator forgot to encode
    "postgresql://imagine:hun/ter2@db/imagine",  # and a slash
    "postgresql://imagine@/imagine?host=/run/postgresql&password=hunter2",  # libpq reads it there too
]


@pytest.mark.parametrize("url", [url.replace("postgres", "mysql", 1) for url in PASSWORD_URLS])
def test_a_database_url_that_is_refused_never_shows_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({**REQUIRED, "DATABASE_URL": url})
    message = str(caught.value)
    assert "DATABASE_URL" in message and "postgresql://" in message  # it says which forms it reads
    assert "hunter2" not in message and "ter2" not in message


@pytest.mark.parametrize("url", PASSWORD_URLS)
def test_a_postgres_url_is_read_and_shown_without_its_password(url: str) -> None:
    config = Config.from_env({**REQUIRED, "DATABASE_URL": url})
    assert config.database_url == url and config.database_path is None
    for shown in (config.database_shown, repr(config)):
        assert "hunter2" not in shown and "ter2" not in shown
    assert config.database_shown.startswith(url.split(":", 1)[0] + "://imagine")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"SHARD_IDS": "0-1"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "2-4"}, "SHARD_IDS names shard 4, but SHARD_COUNT makes 0 to 3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "3-1"}, "SHARD_IDS has a range that runs backwards"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "a"}, "SHARD_IDS must be ids and ranges of them"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0-2,1"}, "SHARD_IDS names a shard twice"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be between 1 and 100000"),
    ],
)
def test_a_wrong_shard_slice_is_one_line_naming_it(settings: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": KEY, **settings})
    assert problem in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_a_shard_slice_is_read_in_order() -> None:
    config = Config.from_env({"DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": KEY, "SHARD_COUNT": "10", "SHARD_IDS": "8,0-2"})
    assert (config.shard_count, config.shard_ids) == (10, (0, 1, 2, 8))
