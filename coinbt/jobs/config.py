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
#: set by ``coinbt worker`` to its process id (its work horses inherit it)
WORKER_PID_ENV = "COINBT_WORKER_PID"
DEFAULT_QUEUE = "default"
#: retries after the first failure, and the waits before each (seconds)
DEFAULT_RETRIES = 2
DEFAULT_RETRY_INTERVALS = (5, 30, 120)
#: a job still running after this many seconds is stopped and counts as failed
DEFAULT_TIMEOUT_S = 3600
#: how long RQ keeps a finished or failed job's record (the registry keeps the run for ever)
RESULT_TTL_S = 7 * 86_400
#: ``coinbt worker``: seconds between heartbeats while a job runs (RQ's default is 30), and
#: how long after a job's timeout its work horse is killed from outside if still alive
WORKER_HEARTBEAT_S = 10
WORKER_KILL_GRACE_S = 10
#: backtests of at most this many bars run inside the worker process, without a work horse
WORKER_INLINE_BARS = 100_000
#: ``coinbt jobs recover``: a started job whose last heartbeat is older than this is abandoned
STALE_AFTER_S = 120
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


def default_retry_intervals() -> tuple[int, ...]:
    """``$COINBT_JOB_RETRY_INTERVALS`` (comma-separated seconds, e.g. ``5,30,120``) or
    ``(5, 30, 120)``: the wait before retry 1, 2, 3 … (the last one repeats)."""
    text = os.environ.get("COINBT_JOB_RETRY_INTERVALS", "").strip()
    if not text:
        return DEFAULT_RETRY_INTERVALS
    return retry_intervals(text, field="COINBT_JOB_RETRY_INTERVALS")


def retry_intervals(value: object, *, field: str = "retry_intervals") -> tuple[int, ...]:
    """Seconds to wait before each retry, from ``"5,30"``, ``5`` or ``[5, 30]``.

    Raises
    ------
    ConfigError
        Not whole numbers of seconds, a negative one, or none at all.
    """
    items = str(value).split(",") if isinstance(value, str) else value
    if isinstance(items, int):
        items = [items]
    try:
        waits = tuple(int(str(v).strip()) for v in items)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(
            f"{field}={value!r}: expected whole seconds such as 5,30,120", field=field
        ) from None
    if not waits or any(w < 0 for w in waits):
        raise ConfigError(
            f"{field}={value!r}: give one or more waits of 0 seconds or more", field=field
        )
    return waits


def inline_bars() -> int:
    """``$COINBT_WORKER_INLINE_BARS`` or 100,000 (0: every job in a forked work horse)."""
    return _int_env("COINBT_WORKER_INLINE_BARS", WORKER_INLINE_BARS)


def default_timeout() -> int:
    """``$COINBT_JOB_TIMEOUT`` (seconds) or 3600."""
    return _int_env("COINBT_JOB_TIMEOUT", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S


#: Redis clients by (process id, URL): making one costs ~3 ms, a pooled call ~0.1 ms
_CLIENTS: dict[tuple[int, str], Redis] = {}


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
    key = (os.getpid(), url)
    conn = _CLIENTS.get(key)
    try:
        if conn is None:
            conn = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)
        if check:
            conn.ping()
    except (RedisError, ValueError, OSError) as exc:
        raise JobError(
            f"Redis at {hide_password(url)} is not reachable ({exc}); start it or fix ${REDIS_ENV}"
        ) from exc
    _CLIENTS[key] = conn  # one client (and connection pool) per process and URL
    return conn
