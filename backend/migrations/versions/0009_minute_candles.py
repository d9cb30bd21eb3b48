"""One-minute candles kept by ingest on plain PostgreSQL and SQLite, so the market page's
24-hour chart reads 1,440 rows instead of folding every tick of the day on each refresh.
TimescaleDB keeps its continuous aggregate of the same name (migration 0001).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.market import candles
from backend.types import Money, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _relkind() -> str | None:
    """'r' for a table, 'v' for TimescaleDB's continuous aggregate, None when absent."""
    return (
        op.get_bind()
        .execute(
            sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass('price_candles_1m')")
        )
        .scalar()
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _relkind() == "v":
        return  # TimescaleDB's continuous aggregate already answers under this name
    op.create_table(
        "price_candles_1m",
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("bucket", UTCDateTime, primary_key=True),
        sa.Column("open", Money, nullable=False),
        sa.Column("high", Money, nullable=False),
        sa.Column("low", Money, nullable=False),
        sa.Column("close", Money, nullable=False),
        sa.Column("ticks", sa.Integer, nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
    )
    candles.rebuild(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql" or _relkind() == "r":
        op.drop_table("price_candles_1m")
