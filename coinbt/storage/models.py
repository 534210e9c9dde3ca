"""SQLAlchemy 2 models of the run registry: ``runs`` and ``artifacts``.

The schema is created and changed only by the Alembic migrations in
``coinbt/storage/migrations``; these classes describe it for queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")

RUN_KINDS = ("backtest", "sweep", "sweep_trial", "notebook", "legacy", "compare")
RUN_STATUSES = ("queued", "running", "finished", "failed", "cancelled")

#: headline metrics stored as real columns: column name → key in ``BacktestResult.stats``
METRIC_COLUMNS = {
    "total_return": "total_return",
    "cagr": "cagr",
    "sharpe": "sharpe",
    "sortino": "sortino",
    "max_drawdown": "max_drawdown",
    "n_trades": "n_trades",
    "win_rate": "win_rate",
    "profit_factor": "profit_factor",
    "exposure": "exposure_time",
}


class Base(DeclarativeBase):
    pass


class Run(Base):
    """One run: its identity, market, settings, headline metrics and where its artifacts are."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="backtest")
    status: Mapped[str] = mapped_column(String(16), default="finished")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    strategy: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    exchange: Mapped[str | None] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    symbols: Mapped[list[str]] = mapped_column(JSONType, default=list)
    timeframe: Mapped[str] = mapped_column(String(16))
    start: Mapped[str | None] = mapped_column(String(40))
    end: Mapped[str | None] = mapped_column(String(40))
    engine: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    total_return: Mapped[float | None] = mapped_column(Float)
    cagr: Mapped[float | None] = mapped_column(Float)
    sharpe: Mapped[float | None] = mapped_column(Float)
    sortino: Mapped[float | None] = mapped_column(Float)
    max_drawdown: Mapped[float | None] = mapped_column(Float)
    n_trades: Mapped[int | None] = mapped_column(Integer)
    win_rate: Mapped[float | None] = mapped_column(Float)
    profit_factor: Mapped[float | None] = mapped_column(Float)
    exposure: Mapped[float | None] = mapped_column(Float)
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    coinbt_version: Mapped[str | None] = mapped_column(String(32))
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    parent_run_id: Mapped[str | None] = mapped_column(String(64))
    notebook_uri: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_runs_strategy", "strategy"),
        Index("ix_runs_symbol", "symbol"),
        Index("ix_runs_timeframe", "timeframe"),
        Index("ix_runs_kind", "kind"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_created", "created"),
        Index("ix_runs_parent_run_id", "parent_run_id"),
        Index("ix_runs_total_return", "total_return"),
        Index("ix_runs_sharpe", "sharpe"),
        Index("ix_runs_cagr", "cagr"),
        Index("ix_runs_max_drawdown", "max_drawdown"),
        Index("ix_runs_strategy_symbol_timeframe", "strategy", "symbol", "timeframe"),
    )


class Artifact(Base):
    """One stored object of a run, with the checksum every download is verified against."""

    __tablename__ = "artifacts"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
