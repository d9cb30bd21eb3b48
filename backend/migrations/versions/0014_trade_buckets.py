"""Realized profit per 5 minutes (trade_buckets), filled from the trades already there:
a P&L curve shorter than two weeks adds up buckets instead of trades.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.trading import trade_buckets
from backend.types import Money

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trade_buckets",
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        sa.Column("strategy", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("requested_by", sa.String(64), primary_key=True),
        sa.Column("realized", sa.Integer, nullable=False),
        sa.Column("profit_usd", Money, nullable=False),
    )
    trade_buckets.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("trade_buckets")
