"""Fixtures shared by the whole test suite. Keep this file small."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def services_required() -> bool:
    """True when missing data or services must fail the run instead of skipping."""
    return os.environ.get("COINBT_REQUIRE_SERVICES") == "1"


def _skip_or_fail(reason: str) -> None:
    if services_required():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def skip_or_fail() -> Callable[[str], None]:
    """Skip with a reason, or fail instead when ``COINBT_REQUIRE_SERVICES=1``."""
    return _skip_or_fail


@pytest.fixture(scope="session")
def real_data_dir(skip_or_fail: Callable[[str], None]) -> Path:
    """The real exchange candles (env ``COINBT_SHARED_DATA``, default ``<repo>/../shared/data/real``)."""
    default = REPO_ROOT.parent / "shared" / "data" / "real"
    root = Path(os.environ.get("COINBT_SHARED_DATA", default))
    if not root.is_dir():
        skip_or_fail(f"real candle data not found at {root}; set COINBT_SHARED_DATA")
    return root
