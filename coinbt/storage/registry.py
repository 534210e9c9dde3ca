"""``Registry``: record, find and load runs (SQLite or PostgreSQL rows + local artifacts)."""

from __future__ import annotations

import difflib
import os
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from coinbt import settings
from coinbt.errors import StorageError
from coinbt.storage import migrate
from coinbt.storage.artifacts import ArtifactStore
from coinbt.storage.common import first_line, hide_password, metric_value, parse_duration
from coinbt.storage.lifecycle import artifact_rows, complete_run, spec_row
from coinbt.storage.models import METRIC_COLUMNS, Artifact, Run
from coinbt.storage.queries import DELETING, distinct_query, filtered
from coinbt.storage.queries import column as known_column
from coinbt.storage.rebuild import rebuild_result

DEFAULT_URL = settings.DEFAULT_REGISTRY_URL
DEFAULT_ARTIFACTS = settings.DEFAULT_ARTIFACTS


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


class Registry:
    """Every recorded run: a database row plus its artifacts.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default ``$COINBT_REGISTRY_URL`` or ``sqlite:///.coinbt/registry.db``.
        ``postgresql+psycopg://user@host/db`` for a shared registry.
    artifacts : str, Path or ArtifactStore, optional
        Artifact root; default ``$COINBT_ARTIFACTS_URI`` or ``.coinbt/artifacts``.

    Notes
    -----
    The SQLite folder is created and the schema migrated to the newest revision on first use.

    Examples
    --------
    >>> reg = Registry("sqlite:///runs.db", "artifacts")  # doctest: +SKIP
    >>> run_id = reg.record(coinbt.backtest("sma_cross", "BTC-USDT", "1h"))  # doctest: +SKIP
    >>> reg.runs(where={"sharpe": (">", 1)}, order_by="-sharpe", limit=10)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        artifacts: str | os.PathLike[str] | ArtifactStore | None = None,
    ) -> None:
        self.url = url or settings.registry_url()
        if artifacts is None:
            artifacts = settings.artifacts_uri()
        self.store = artifacts if isinstance(artifacts, ArtifactStore) else ArtifactStore(artifacts)
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"Registry({self.engine.url.render_as_string(hide_password=True)!r}, {self.store!r})"

    # -- connection -------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine; the first access creates the database and migrates it."""
        if self._engine is None:
            self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        try:
            engine = create_engine(self.url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(
                f"registry URL {hide_password(self.url)!r} is not usable: {exc}"
            ) from exc
        if engine.dialect.name == "sqlite":
            db = engine.url.database
            if db and db != ":memory:":
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            migrate.ensure_head(self.url)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"registry {hide_password(self.url)}: cannot open or migrate it: {first_line(exc)}"
            ) from exc
        return engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- recording ----------------------------------------------------------------------------

    def exists(self, run_id: str) -> bool:
        """True when the run is stored (a run being deleted no longer counts)."""
        status = self._status(run_id)
        return status is not None and status != DELETING

    def status(self, run_id: str) -> str | None:
        """The stored status of a run (``queued``, ``running``, ``finished``, ``failed``,
        ``cancelled``), or None when there is no such run."""
        status = self._status(run_id)
        return None if status == DELETING else status

    def _status(self, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(Run.status).where(Run.run_id == run_id)).first()
        return None if found is None else found[0]

    def record(
        self,
        result: Any,
        *,
        kind: str = "backtest",
        tags: list[str] | None = None,
        parent_run_id: str | None = None,
    ) -> str:
        """Store a run: artifacts first, then its row and artifact rows in one transaction.

        Parameters
        ----------
        result : BacktestResult
            The run to store.
        kind : str
            ``backtest``, ``sweep``, ``sweep_trial``, ``notebook``, ``legacy`` or ``compare``.
        tags : list of str, optional
            Free labels for finding the run again.
        parent_run_id : str, optional
            The sweep this run belongs to.

        Returns
        -------
        str
            The run id.  Recording a run that is already finished changes nothing; a run
            whose row a job created (``queued``, ``running``, ``failed``, ``cancelled``; see
            :mod:`coinbt.storage.lifecycle`) is completed in place, keeping its kind, tags,
            parent and creation time.

        Raises
        ------
        StorageError
            When an artifact cannot be written or the database refuses the row; no row is left
            pointing at missing artifacts.
        """
        run_id = result.run_id
        status = self._status(run_id)
        if status == DELETING:
            self._finish_delete(run_id)  # a delete crashed half-way: complete it, then record
        elif status == "finished":
            return run_id
        infos = self.store.save_result(result)
        row = self._row(result, kind=kind, tags=tags, parent_run_id=parent_run_id)
        if status is None or status == DELETING:
            self.insert_run(row, infos)
        else:  # queued / running / failed / cancelled: a job's row, completed in place
            complete_run(self, row, infos)
        return run_id

    def insert_run(self, row: Mapping[str, Any], artifacts: Iterable[Any]) -> bool:
        """Insert a run row and its artifact rows in one transaction (low level).

        The artifacts must already be stored: this is the second half of :meth:`record`, and
        what legacy import and restore use for rows they build themselves.

        Parameters
        ----------
        row : mapping
            Column values of ``runs`` (``run_id`` required).
        artifacts : iterable of ArtifactInfo
            The stored objects of the run.

        Returns
        -------
        bool
            False when a row with this ``run_id`` already existed (nothing was changed).
        """
        run_id = row["run_id"]
        rows = artifact_rows(run_id, artifacts)
        dialect = self.engine.dialect.name
        insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
        for attempt in range(20):
            try:
                with self.engine.begin() as conn:
                    if insert is not None:
                        # one statement for every row, values as parameters: compiled once
                        # and cached (values(**row) cost ~1 ms of Python per insert)
                        stmt = (
                            insert(Run.__table__)
                            .on_conflict_do_nothing(index_elements=["run_id"])
                            .returning(Run.__table__.c.run_id)
                        )
                        # (rowcount is not reliable here on psycopg; RETURNING is)
                        if conn.execute(stmt, dict(row)).first() is None:
                            return False  # a concurrent recorder stored it first
                    else:
                        conn.execute(Run.__table__.insert().values(**row))
                    if rows:
                        conn.execute(Artifact.__table__.insert(), rows)
                return True
            except IntegrityError:
                if self.exists(run_id):
                    return False
                raise
            except OperationalError as exc:
                if "locked" in str(exc).lower() and attempt < 19:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise StorageError(f"run {run_id}: registry write failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _row(
        self, result: Any, *, kind: str, tags: list[str] | None, parent_run_id: str | None
    ) -> dict[str, Any]:
        row = spec_row(
            result.spec,
            self.store.run_uri(result.run_id),
            kind=kind,
            status="finished",
            tags=tags,
            parent_run_id=parent_run_id,
        )
        stats = dict(result.stats)
        for column, key in METRIC_COLUMNS.items():
            value = metric_value(stats, key)
            row[column] = int(value) if column == "n_trades" and value is not None else value
        return row

    # -- queries ------------------------------------------------------------------------------

    def runs(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        tags: str | Iterable[str] | None = None,
        where: Mapping[str, tuple[str, Any]] | None = None,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> pd.DataFrame:
        """Runs matching every filter, as a DataFrame with one row per run.

        Parameters
        ----------
        strategy, symbol, timeframe, kind, status : str, optional
            Exact matches.  Runs being deleted are never listed.
        since, until : str or datetime, optional
            Only runs created at or after ``since`` and before ``until`` (naive times are UTC).
        tags : str or list of str, optional
            Only runs carrying every one of these tags.
        where : dict, optional
            ``{column: (operator, value)}`` with operators ``= != < <= > >=``, e.g.
            ``{"sharpe": (">", 1), "n_trades": (">=", 20)}``.
        order_by : str or list of str, optional
            Column names; a leading ``-`` sorts descending.  Default: newest first.
        limit, offset : int, optional
            Paging.
        """
        query = filtered(
            self.engine.dialect.name, select(Run.__table__), strategy=strategy, symbol=symbol, timeframe=timeframe,
            kind=kind, status=status, since=since, until=until, tags=tags, where=where,
        )  # fmt: skip
        orders = [order_by] if isinstance(order_by, str) else list(order_by or ["-created"])
        for name in orders:
            desc = name.startswith("-")
            col = known_column(name.lstrip("-+"))
            query = query.order_by(col.desc() if desc else col.asc())
        query = query.order_by(Run.run_id)
        if limit is not None:
            query = query.limit(int(limit))
        if offset:
            query = query.offset(int(offset))
        with self.engine.connect() as conn:
            result = conn.execute(query)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        for column in ("created", "started", "finished"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def count(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        tags: str | Iterable[str] | None = None,
        where: Mapping[str, tuple[str, Any]] | None = None,
    ) -> int:
        """How many runs :meth:`runs` would list with these filters (for paging)."""
        query = filtered(
            self.engine.dialect.name, select(func.count()).select_from(Run.__table__),
            strategy=strategy, symbol=symbol,
            timeframe=timeframe, kind=kind, status=status, since=since, until=until, tags=tags,
            where=where,
        )  # fmt: skip
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def distinct(self, column: str) -> list[Any]:
        """The distinct non-null values of a column among listed runs, sorted (to fill the
        choices of a filter)."""
        query = distinct_query(column)
        with self.engine.connect() as conn:
            return sorted(conn.execute(query, {"deleting": DELETING}).scalars())

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run's row (the columns of :meth:`runs`, as Python values), or None if absent."""
        frame = self.runs(where={"run_id": ("=", run_id)}, limit=1)
        return None if frame.empty else frame.to_dict("records")[0]

    def resolve(self, run_id: str) -> str:
        """The full run id for ``run_id`` or a unique prefix of one.

        Raises
        ------
        StorageError
            When no stored run matches (with the closest run ids as suggestions) or the
            prefix matches several runs.
        """
        text = str(run_id).strip()
        if self.exists(text):
            return text
        visible = Run.status != DELETING
        with self.engine.connect() as conn:
            matches = (
                conn.execute(
                    select(Run.run_id)
                    .where(visible, Run.run_id.startswith(text, autoescape=True))
                    .order_by(Run.run_id)
                    .limit(6)
                )
                .scalars()
                .all()
                if text
                else []
            )
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                shown = ", ".join(m[:16] for m in matches[:5])
                raise StorageError(
                    f"run id prefix {text!r} is ambiguous: it matches {shown}"
                    f"{', …' if len(matches) > 5 else ''}; give more characters"
                )
            near = (
                conn.execute(
                    select(Run.run_id)
                    .where(visible, Run.run_id.startswith(text[:1], autoescape=True))
                    .limit(5000)
                )
                .scalars()
                .all()
            )
        # compare like with like: the given text against run-id prefixes of the same length
        shown = {n[: len(text)]: n[: max(len(text), 12)] for n in near}
        close = difflib.get_close_matches(text, list(shown), n=3, cutoff=0.6)
        names = ", ".join(f"'{shown[c]}'" for c in close)
        hint = f" Did you mean {names}?" if close else ""
        raise StorageError(
            f"unknown run {text!r} in the registry at {hide_password(self.url)}.{hint}"
        )

    # -- deleting -----------------------------------------------------------------------------

    def delete(self, run_id: str) -> str:
        """Remove a run: its artifacts, then its rows.

        The order keeps the registry honest when the process dies half-way:

        1. the row is marked ``status='deleting'`` (committed) — from now on every query,
           :meth:`exists` and :meth:`load` treat the run as gone, so no visible row ever points
           at a missing artifact;
        2. the artifact files are removed;
        3. the artifact rows and the run row are deleted in one transaction.

        A crash after 1 or 2 leaves a hidden ``deleting`` row; the next :meth:`delete`,
        :meth:`prune` or :meth:`record` of that run id completes the removal.

        Parameters
        ----------
        run_id : str
            A run id or a unique prefix of one.

        Returns
        -------
        str
            The full id of the deleted run.

        Raises
        ------
        StorageError
            When the run is unknown (see :meth:`resolve`) or a file cannot be removed (the run
            then stays hidden as ``deleting``; deleting it again retries).
        """
        status = self._status(str(run_id).strip())
        full = str(run_id).strip() if status == DELETING else self.resolve(run_id)
        self._finish_delete(full)
        return full

    def _finish_delete(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(Run).where(Run.run_id == run_id).values(status=DELETING))
        try:
            self.store.delete_run(run_id)
        except (OSError, StorageError) as exc:
            raise StorageError(
                f"run {run_id}: could not remove its artifacts ({exc}); the run is hidden and "
                "deleting it again retries"
            ) from exc
        with self.engine.begin() as conn:
            conn.execute(delete(Artifact).where(Artifact.run_id == run_id))
            conn.execute(delete(Run).where(Run.run_id == run_id))

    def prune(
        self,
        older_than: str | timedelta,
        kind: str | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """Delete every run created more than ``older_than`` ago (see :meth:`delete`).

        Parameters
        ----------
        older_than : str or timedelta
            ``"30d"``, ``"12h"``, … (see :func:`parse_duration`) or a timedelta.
        kind : str, optional
            Only runs of this kind.
        dry_run : bool
            List what would be deleted and delete nothing.

        Returns
        -------
        list of str
            The run ids deleted (or that would be), oldest first.  Runs left half-deleted by
            an earlier crash are completed too, whatever their age.
        """
        cutoff = datetime.now(UTC) - parse_duration(older_than)
        query = select(Run.run_id).where(Run.created < cutoff, Run.status != DELETING)
        if kind is not None:
            query = query.where(Run.kind == kind)
        with self.engine.connect() as conn:
            old = list(conn.execute(query.order_by(Run.created, Run.run_id)).scalars())
            stuck = list(conn.execute(select(Run.run_id).where(Run.status == DELETING)).scalars())
        if dry_run:
            return old
        for run_id in [*stuck, *old]:
            self._finish_delete(run_id)
        return old

    # -- loading ------------------------------------------------------------------------------

    def artifacts(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The recorded artifacts of a run: name → uri, bytes, rows, sha256."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(Artifact.__table__).where(Artifact.run_id == run_id))
                .mappings()
                .all()
            )
        return {r["name"]: dict(r) for r in rows}

    def load(self, run_id: str) -> Any:
        """The stored run as a :class:`~coinbt.results.BacktestResult`.

        ``spec``, ``stats``, ``trades``, ``positions``, ``equity`` and ``signals`` equal what was
        recorded; every artifact is checked against its recorded SHA-256.  A run of kind
        ``legacy`` loads as a :class:`~coinbt.storage.legacy.LegacyRun` (``docs/legacy.md``).

        Raises
        ------
        StorageError
            When the run is unknown or an artifact is missing or corrupt.
        """
        if not self.exists(run_id):
            raise StorageError(f"run {run_id} is not in the registry at {hide_password(self.url)}")
        with self.engine.connect() as conn:
            kind, status = conn.execute(
                select(Run.kind, Run.status).where(Run.run_id == run_id)
            ).one()
        if status != "finished" and kind != "legacy":
            raise StorageError(
                f"run {run_id} is {status}, so it has no results to load yet"
                + (" (coinbt jobs show it to see why)" if status == "failed" else "")
            )
        if kind == "legacy":
            from coinbt.storage.legacy import load_legacy_run

            return load_legacy_run(self, run_id)
        recorded = self.artifacts(run_id)

        def sha(name: str) -> str:
            if name not in recorded:
                raise StorageError(f"run {run_id}: the registry lists no artifact {name}")
            return recorded[name]["sha256"]

        spec = self.store.read_document(run_id, "spec", sha("spec.json"))
        stats = self.store.read_document(run_id, "stats", sha("stats.json"))
        tables = {
            t: self.store.read_table(run_id, t, sha(f"{t}.parquet"))
            for t in ("trades", "equity", "signals", "positions")
        }
        return rebuild_result(spec, stats, **tables)
