"""Where jobs go: the Redis URL, queue names, retry and timeout defaults (all from the
environment, read when used — nothing happens at import)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from coinbt.errors import ConfigError, JobError
from coinbt.storage.common import hide_password

if TYPE_CHECKING:
    from redis import Redis

REDIS_ENV = "COINBT_REDIS_URL"
DEFAULT_QUEUE = "default"
#: retries after the first failure, and the waits before each (seconds)
DEFAULT_RETRIES = 2
DEFAULT_RETRY_INTERVALS = (5, 30, 120)
#: a job still running after this many seconds is stopped and counts as failed
DEFAULT_TIMEOUT_S = 3600
#: how long RQ keeps a finished or failed job's record (the registry keeps the run for ever)
RESULT_TTL_S = 7 * 86_400
FAILURE_TTL_S = 30 * 86_400


def redis_url() -> str | None:
    """``$COINBT_REDIS_URL``, or None: then jobs run in the calling process."""
    url = os.environ.get(REDIS_ENV, "").strip()
    return url or None


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"${name}={text!r} is not a whole number", field=name) from None
    if value < 0:
        raise ConfigError(f"${name}={text!r} must be 0 or more", field=name)
    return value


def default_retries() -> int:
    """``$COINBT_JOB_RETRIES`` or 2."""
    return _int_env("COINBT_JOB_RETRIES", DEFAULT_RETRIES)


def default_timeout() -> int:
    """``$COINBT_JOB_TIMEOUT`` (seconds) or 3600."""
    return _int_env("COINBT_JOB_TIMEOUT", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S


def connect(url: str | None = None, *, check: bool = True) -> Redis:
    """A Redis connection for ``url`` (default ``$COINBT_REDIS_URL``), pinged when ``check``.

    Raises
    ------
    JobError
        No URL, the redis package missing, or the server not answering — naming the URL.
    """
    url = url or redis_url()
    if not url:
        raise JobError(f"no Redis configured: set ${REDIS_ENV}, e.g. redis://127.0.0.1:6379/0")
    try:
        from redis import Redis
        from redis.exceptions import RedisError
    except ImportError as exc:  # pragma: no cover - in the jobs extra
        raise JobError("background jobs need rq and redis: pip install 'coinbt[jobs]'") from exc
    try:
        conn = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)
        if check:
            conn.ping()
    except (RedisError, ValueError, OSError) as exc:
        raise JobError(
            f"Redis at {hide_password(url)} is not reachable ({exc}); start it or fix ${REDIS_ENV}"
        ) from exc
    return conn
