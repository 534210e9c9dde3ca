"""Alembic, run programmatically with the migrations shipped in ``coinbt/storage/migrations``."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from coinbt.locks import file_lock

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for ``url`` without any ``alembic.ini``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _scripts() -> ScriptDirectory:
    """The migrations shipped with this coinbt."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head() -> str:
    """The newest revision shipped with this coinbt."""
    rev = _scripts().get_current_head()
    assert rev is not None
    return rev


def known_revisions() -> set[str]:
    """Every revision shipped with this coinbt."""
    return {rev.revision for rev in _scripts().walk_revisions()}


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the registry at ``url`` up to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the registry at ``url`` down to ``revision`` (``"base"`` drops every table)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the registry at ``url`` is at (None for an empty database)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


#: key of the PostgreSQL advisory lock that serialises schema upgrades between processes
_PG_LOCK_KEY = zlib.crc32(b"coinbt registry migration")


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Only one process at a time migrates a registry.

    SQLite: a lock file beside the database (``registry.db.migrate.lock``).  PostgreSQL: a
    session advisory lock, held on a connection of its own for the duration.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            yield
            return
        with file_lock(Path(db).expanduser().with_name(Path(db).name + ".migrate.lock")):
            yield
        return
    if parsed.get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def ensure_head(url: str) -> bool:
    """Bring the registry at ``url`` to the newest revision unless it already is there.

    Safe when many processes open a new registry at once: they queue on a migration lock and
    only the first one migrates.  Returns True when this call migrated.
    """
    target = head()
    if current(url) == target:
        return False
    with _migration_lock(url):
        if current(url) == target:  # another process finished the job while we waited
            return False
        upgrade(url)
        return True
