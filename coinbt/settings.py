"""Embedded defaults and environment overrides.

Nothing here runs at import time beyond defining functions: values are read when asked for, so
tests and notebooks can change the environment between calls.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the embedded registry and artifact store (relative to the working folder)
DEFAULT_REGISTRY_URL = "sqlite:///.coinbt/registry.db"
DEFAULT_ARTIFACTS = ".coinbt/artifacts"


def data_root() -> Path:
    """The catalog root: ``$COINBT_DATA_ROOT`` or ``./data``."""
    return Path(os.environ.get("COINBT_DATA_ROOT", "data")).expanduser()


def bundled_data_root() -> Path:
    """Real candles shipped inside the package (see ``coinbt/data/bundled/SOURCES.md``)."""
    return Path(__file__).resolve().parent / "data" / "bundled"


def reports_root() -> Path:
    """Where reports are written: ``$COINBT_REPORTS_DIR`` or ``./reports``."""
    return Path(os.environ.get("COINBT_REPORTS_DIR", "reports")).expanduser()


def registry_url() -> str:
    """The run registry: ``$COINBT_REGISTRY_URL`` or the embedded SQLite file."""
    return os.environ.get("COINBT_REGISTRY_URL") or DEFAULT_REGISTRY_URL


def artifacts_uri() -> str:
    """The artifact store: ``$COINBT_ARTIFACTS_URI`` (a folder or ``s3://bucket/prefix``) or
    the embedded folder."""
    return os.environ.get("COINBT_ARTIFACTS_URI") or DEFAULT_ARTIFACTS
