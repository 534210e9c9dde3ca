"""Bars recently read from the catalog, kept per process.

A long-lived process (a notebook kernel, a ``coinbt worker`` running small backtests one after
another) reads the same year files again and again; decoding and validating them costs more
than the backtest itself.  :func:`coinbt.data.load_bars` keeps the validated frames of its
last reads here, keyed by each file's identity on disk (inode, modification time, size — a
catalog write replaces files atomically, so a changed file never matches) and the requested
range.  Callers always get their own copy, so changing a loaded frame never changes the cache.

``$COINBT_BARS_CACHE_MB`` bounds it (default 256; 0 turns it off).
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from coinbt.errors import ConfigError

DEFAULT_MB = 256
_ENV = "COINBT_BARS_CACHE_MB"

_lock = threading.Lock()
_entries: OrderedDict[Hashable, tuple[pd.DataFrame, Any, int]] = OrderedDict()
_bytes = 0


def budget_bytes() -> int:
    """The cache's size limit from ``$COINBT_BARS_CACHE_MB`` (MiB; 0 = no caching)."""
    text = os.environ.get(_ENV, "").strip()
    if not text:
        return DEFAULT_MB << 20
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if mb < 0:
        raise ConfigError(
            f"${_ENV}={text!r} is not a size in MiB; use a number such as 256, or 0 to turn "
            "the bars cache off",
            field=_ENV,
        )
    return int(mb * (1 << 20))


def key(paths: Sequence[Path], *extra: Hashable) -> Hashable | None:
    """A key naming these files as they are on disk now, plus ``extra``; None if one is gone."""
    ids = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        ids.append((str(path), st.st_ino, st.st_mtime_ns, st.st_size))
    return (tuple(ids), *extra)


def _copy(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy(deep=True)
    out.attrs = copy.deepcopy(frame.attrs)
    return out


def get(k: Hashable | None) -> tuple[pd.DataFrame, Any] | None:
    """A copy of the cached frame and its companion value, or None."""
    if k is None:
        return None
    with _lock:
        hit = _entries.get(k)
        if hit is None:
            return None
        _entries.move_to_end(k)
    return _copy(hit[0]), hit[1]


def put(k: Hashable | None, frame: pd.DataFrame, value: Any = None) -> None:
    """Keep a copy of ``frame`` (and ``value``) under ``k``, dropping the oldest beyond budget."""
    global _bytes
    limit = budget_bytes()
    size = int(frame.memory_usage(index=True, deep=False).sum())
    if k is None or size > limit:
        return
    kept = _copy(frame)
    with _lock:
        old = _entries.pop(k, None)
        if old is not None:
            _bytes -= old[2]
        _entries[k] = (kept, value, size)
        _bytes += size
        while _bytes > limit and _entries:
            _, (_, _, dropped) = _entries.popitem(last=False)
            _bytes -= dropped


def clear() -> None:
    """Forget every cached frame."""
    global _bytes
    with _lock:
        _entries.clear()
        _bytes = 0


def info() -> dict[str, int]:
    """``entries`` and ``bytes`` held now."""
    with _lock:
        return {"entries": len(_entries), "bytes": _bytes}


__all__ = ["budget_bytes", "clear", "get", "info", "key", "put"]
