"""Embedded defaults and environment overrides.

Nothing here runs at import time beyond defining functions: values are read when asked for, so
tests and notebooks can change the environment between calls.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """The catalog root: ``$COINBT_DATA_ROOT`` or ``./data``."""
    return Path(os.environ.get("COINBT_DATA_ROOT", "data")).expanduser()


def bundled_data_root() -> Path:
    """Real candles shipped inside the package (see ``coinbt/data/bundled/SOURCES.md``)."""
    return Path(__file__).resolve().parent / "data" / "bundled"


def reports_root() -> Path:
    """Where reports are written: ``$COINBT_REPORTS_DIR`` or ``./reports``."""
    return Path(os.environ.get("COINBT_REPORTS_DIR", "reports")).expanduser()
