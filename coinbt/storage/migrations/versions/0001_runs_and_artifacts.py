"""runs and artifacts

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

RUN_INDEXES = {
    "ix_runs_strategy": ["strategy"],
    "ix_runs_symbol": ["symbol"],
    "ix_runs_timeframe": ["timeframe"],
    "ix_runs_kind": ["kind"],
    "ix_runs_status": ["status"],
    "ix_runs_created": ["created"],
    "ix_runs_parent_run_id": ["parent_run_id"],
    "ix_runs_total_return": ["total_return"],
    "ix_runs_sharpe": ["sharpe"],
    "ix_runs_cagr": ["cagr"],
    "ix_runs_max_drawdown": ["max_drawdown"],
    "ix_runs_strategy_symbol_timeframe": ["strategy", "symbol", "timeframe"],
}


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True)),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("exchange", sa.String(64)),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("symbols", JSONType, nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("start", sa.String(40)),
        sa.Column("end", sa.String(40)),
        sa.Column("engine", JSONType, nullable=False),
        sa.Column("total_return", sa.Float),
        sa.Column("cagr", sa.Float),
        sa.Column("sharpe", sa.Float),
        sa.Column("sortino", sa.Float),
        sa.Column("max_drawdown", sa.Float),
        sa.Column("n_trades", sa.Integer),
        sa.Column("win_rate", sa.Float),
        sa.Column("profit_factor", sa.Float),
        sa.Column("exposure", sa.Float),
        sa.Column("data_fingerprint", sa.String(64)),
        sa.Column("coinbt_version", sa.String(32)),
        sa.Column("artifact_uri", sa.Text),
        sa.Column("parent_run_id", sa.String(64)),
        sa.Column("notebook_uri", sa.Text),
        sa.Column("tags", JSONType, nullable=False),
        sa.Column("error", sa.Text),
    )
    for name, columns in RUN_INDEXES.items():
        op.create_index(name, "runs", columns)
    op.create_table(
        "artifacts",
        sa.Column(
            "run_id",
            sa.String(64),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger),
        sa.Column("sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("artifacts")
    for name in RUN_INDEXES:
        op.drop_index(name, table_name="runs")
    op.drop_table("runs")
