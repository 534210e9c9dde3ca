"""Small helpers shared by the registry, its CLI and the tools around it.

Durations (``30d``), UTC times from user input, URLs safe to print, metric values for the
registry's real columns, SHA-256 of bytes and files, atomic file writes, one-line error text.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from coinbt.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def metric_value(stats: Mapping[str, Any], key: str) -> float | None:
    value = stats.get(key)
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def parse_duration(text: str | timedelta) -> timedelta:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"45s"`` or ``"2w"`` as a :class:`~datetime.timedelta`.

    Raises
    ------
    ConfigError
        For anything else, e.g. ``"30"`` or ``"1 month"``.
    """
    if isinstance(text, timedelta):
        return text
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(
            f"bad duration {text!r}: use a number and a unit s, m, h, d or w, e.g. 30d or 12h",
            field="duration",
        )
    return timedelta(**{_DURATION_UNITS[match.group(2)]: float(match.group(1))})


def utc_time(value: str | datetime | pd.Timestamp, field: str) -> datetime:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{field}: {value!r} is not a date or time (e.g. 2026-01-31 or 2026-01-31T12:00)",
            field=field,
        ) from None
    if ts is pd.NaT:
        raise ConfigError(f"{field}: {value!r} is not a date or time", field=field)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: mask ``user:secret@`` by hand
        return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def sha256_bytes(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Lower-case hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: str | os.PathLike[str], data: bytes, mtime: float | None = None) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees half of it.

    A temporary file beside ``path`` is written, fsynced and renamed over ``path``
    (``os.replace``); mode 0644 (``mkstemp`` alone gives 0600); ``mtime`` sets the
    modification time.  On any error the temporary file is removed and ``path`` is unchanged.
    The parent folder is created when missing.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
