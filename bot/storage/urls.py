"""The `DATABASE_URL` forms the bot reads, and how one is shown without its password."""

from __future__ import annotations

import re
from pathlib import Path

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# A password= in a URL's query (libpq reads one there), and a user:password@ up to the URL's last @ (a
# password may hold an unencoded @ or /).
_PASSWORD = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)
_USER_PASSWORD = re.compile(r"//([^:@/\s]*):\S*@(?=[^@]*$)")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def sqlite_path(url: str) -> Path:
    """The file behind a SQLAlchemy-style URL: ``sqlite:///rel/path`` or ``sqlite:////abs/path``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError("must look like sqlite:///relative/path.db or sqlite:////absolute/path.db")
    return Path(url[len(prefix) :])


def check_database_url(url: str) -> str:
    """`url` if the bot can use it, else ValueError saying which forms it reads."""
    if is_postgres_url(url):
        if len(url) == len(url.split("//", 1)[0]) + 2:
            raise ValueError("must name a server and database, like postgresql://user:password@host:5432/imagine")
        return url
    try:
        sqlite_path(url)
    except ValueError:
        raise ValueError(
            "must look like sqlite:///relative/path.db, sqlite:////absolute/path.db or "
            "postgresql://user:password@host:5432/database"
        ) from None
    return url


def without_credentials(url: str) -> str:
    """The URL with nothing of its credentials: for problems with a URL that may be mistyped."""
    return _PASSWORD.sub(r"\1…", re.sub(r"//\S*@", "//…@", url))


def shown(url: str) -> str:
    """The URL as logs and `check` show it: the user kept, the password (in the authority or the query) masked."""
    return _PASSWORD.sub(r"\1…", _USER_PASSWORD.sub(r"//\1:…@", url))
