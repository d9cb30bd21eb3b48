"""The trade history per UTC hour (trade_hours), filled from the trades already there:
the partial days at a range's edges add up whole hours instead of a day of trades. And
indexes of the daily rollup by market and user, strategy or status, then day: a jump deep
into the grid counts its groups and days from one index range instead of reading the
whole rollup (every market, every day).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from backend.trading import trade_hours
from backend.types import Money

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

GROUPS = ("requested_by", "strategy", "status")


def upgrade() -> None:
    op.create_table(
        "trade_hours",
        sa.Column("market", sa.String(32), primary_key=True),
        sa.Column("hour", sa.Integer, primary_key=True),
        sa.Column("strategy", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("requested_by", sa.String(64), primary_key=True),
        sa.Column("trades", sa.Integer, nullable=False),
        sa.Column("realized", sa.Integer, nullable=False),
        sa.Column("size_usd", Money, nullable=False),
        sa.Column("expected_profit_usd", Money, nullable=False),
        sa.Column("profit_usd", Money, nullable=False),
    )
    trade_hours.rebuild(op.get_bind())
    for column in GROUPS:
        op.create_index(
            f"ix_trade_days_market_{column}_day", "trade_days", ["market", column, "day"]
        )


def downgrade() -> None:
    for column in GROUPS:
        op.drop_index(f"ix_trade_days_market_{column}_day", "trade_days")
    op.drop_table("trade_hours")
