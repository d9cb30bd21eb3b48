"""The trade history added up per UTC day (trade_days), filled from the trades already
there; indexes for sorting the history by user, strategy and status.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.trading import trade_days
from backend.types import Money

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

SORTS = ("requested_by", "strategy", "status")


def upgrade() -> None:
    op.create_table(
        "trade_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("strategy", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("requested_by", sa.String(64), primary_key=True),
        sa.Column("trades", sa.Integer, nullable=False),
        sa.Column("realized", sa.Integer, nullable=False),
        sa.Column("size_usd", Money, nullable=False),
        sa.Column("expected_profit_usd", Money, nullable=False),
        sa.Column("profit_usd", Money, nullable=False),
    )
    for column in SORTS:
        op.create_index(f"ix_trades_{column}_id", "trades", [column, "id"])
    trade_days.rebuild(op.get_bind())


def downgrade() -> None:
    for column in SORTS:
        op.drop_index(f"ix_trades_{column}_id", "trades")
    op.drop_table("trade_days")
