# imagine-bot: a slim image that runs the bot as a non-root user, with its database on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/imagine.db

RUN useradd --create-home --uid 10001 imagine \
    && mkdir /data \
    && chown imagine:imagine /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install ".[metrics]"

USER imagine
# Run from / so the default DATABASE_URL (data/imagine.db) is the /data volume even when an env file sets it empty.
WORKDIR /
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "check", "--health"]
CMD ["imagine-bot"]
