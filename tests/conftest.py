"""Fixtures shared by the whole test suite. Keep this file small."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
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


PG_URL = os.environ.get(
    "COINBT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextlib.contextmanager
def _pg_schema(skip_or_fail: Callable[[str], None]) -> Iterator[str]:
    from sqlalchemy import create_engine, pool, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3}, poolclass=pool.NullPool)
    schema = f"coinbt_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        skip_or_fail(f"PostgreSQL unreachable at {PG_URL}: {str(exc.orig).splitlines()[0]}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_schema() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """``with pg_schema(skip_or_fail) as url:`` a fresh PostgreSQL schema (``$COINBT_TEST_POSTGRES_URL``,
    default the local ``test`` database), dropped afterwards; ``url`` selects it."""
    return _pg_schema
