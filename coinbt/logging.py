"""Structured logging for coinbt's processes (the CLI and workers call :func:`configure`; importing
coinbt never touches logging).

``configure(json=True)`` writes one JSON object per line: ``time`` (UTC, ISO 8601), ``level``,
``logger``, ``message``, ``run_id`` / ``job_id`` when known (from :func:`context` or a record's
``extra``), and ``exception`` (type, message, traceback) for errors.  ``configure()`` without
``json`` writes ``HH:MM:SS LEVEL logger: message`` lines for people; the default is JSON when
stderr is not a terminal and ``$COINBT_LOG_JSON`` does not say otherwise.  Secrets are
redacted in both: passwords in URLs (``postgresql://user:***@host``), and values of keys,
tokens and webhook URLs (``token=***``, ``AWS_SECRET_ACCESS_KEY=***``,
``https://hooks.slack.com/***``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json as _json
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator
from typing import IO, Any

#: run and job ids of the work in progress (set by :func:`context`)
_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "coinbt_log_context", default=None
)
_IDS = ("run_id", "job_id")
_SECRETS = [
    (re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@", re.I),
     r"\g<scheme>\g<user>:***@"),
    (re.compile(r"(?P<key>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)"
                r"[\w-]*\b['\"]?\s*[=:]\s*)(?P<q>['\"]?)[^\s'\",;&]+", re.I), r"\g<key>\g<q>***"),
    (re.compile(r"(https://hooks\.slack\.com/|https://discord(?:app)?\.com/api/webhooks/)\S+"),
     r"\1***"),
]  # fmt: skip


def redact(text: str) -> str:
    """``text`` with passwords in URLs, key/token/secret values and webhook paths masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def context(**ids: str | None) -> Iterator[None]:
    """Add ``run_id``/``job_id`` to every record logged inside the block."""
    unknown = set(ids) - set(_IDS)
    if unknown:
        raise ValueError(f"log context takes {', '.join(_IDS)}, not {', '.join(sorted(unknown))}")
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: str(v) for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _ids(record: logging.LogRecord) -> dict[str, Any]:
    """The record's run and job ids: the block's :func:`context`, then the record's ``extra``."""
    return {**(_CONTEXT.get() or {}), **{k: getattr(record, k) for k in _IDS if hasattr(record, k)}}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docs)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        ids = _ids(record)
        out.update({k: str(v) for k, v in ids.items() if v})
        if record.exc_info and record.exc_info[0] is not None:
            kind, value, tb = record.exc_info
            out["exception"] = {
                "type": kind.__name__,
                "message": redact(str(value)),
                "traceback": redact("".join(traceback.format_exception(kind, value, tb))),
            }
        return _json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger: message [run_id=…]`` with secrets redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = _ids(record)
        tail = " ".join(f"{k}={v}" for k, v in ids.items() if v)
        return redact(f"{text} [{tail}]" if tail else text)


def wants_json(stream: IO[str] | None = None) -> bool:
    """``$COINBT_LOG_JSON`` (1/true/yes or 0/false/no) if set, else True unless ``stream``
    (default stderr) is a terminal."""
    setting = os.environ.get("COINBT_LOG_JSON", "").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    target = stream if stream is not None else sys.stderr
    return not (hasattr(target, "isatty") and target.isatty())


def configure(
    *,
    json: bool | None = None,
    level: str | int | None = None,
    stream: IO[str] | None = None,
    loggers: tuple[str, ...] = ("coinbt", "rq"),
) -> logging.Handler:
    """Send ``loggers`` (coinbt's and RQ's) to ``stream`` (stderr) as JSON lines or text.

    ``level`` defaults to ``$COINBT_LOG_LEVEL`` or ``INFO``.  Calling it again replaces the
    handler it added before (idempotent).  Returns the handler."""
    target = stream if stream is not None else sys.stderr
    as_json = wants_json(target) if json is None else json
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    handler.set_name("coinbt")
    name = level if level is not None else os.environ.get("COINBT_LOG_LEVEL", "INFO")
    resolved = logging.getLevelName(name.upper()) if isinstance(name, str) else int(name)
    if not isinstance(resolved, int):
        from coinbt.errors import ConfigError

        raise ConfigError(f"log level {name!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    for logger_name in loggers:
        logger = logging.getLogger(logger_name)
        logger.handlers[:] = [h for h in logger.handlers if h.get_name() != "coinbt"]
        logger.addHandler(handler)
        logger.setLevel(resolved)
        logger.propagate = False
    return handler


__all__ = ["JsonFormatter", "TextFormatter", "configure", "context", "redact", "wants_json"]
