"""Indexes the trade history is searched and sorted by, so a page of the Trades grid
costs the same with a million trades as with a hundred.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trades_created_at_id", "trades", ["created_at", "id"])
    op.create_index("ix_trades_size_usd_id", "trades", ["size_usd", "id"])
    op.create_index("ix_trades_requested_by_created_at", "trades", ["requested_by", "created_at"])
    if op.get_bind().dialect.name == "postgresql":  # the grid's order: no profit last
        op.create_index(
            "ix_trades_profit_usd_id",
            "trades",
            [sa.text("profit_usd DESC NULLS LAST"), sa.text("id DESC")],
        )
    else:
        op.create_index("ix_trades_profit_usd_id", "trades", ["profit_usd", "id"])
    op.create_index("ix_trade_legs_market_trade_id", "trade_legs", ["market", "trade_id"])


def downgrade() -> None:
    op.drop_index("ix_trade_legs_market_trade_id", "trade_legs")
    for name in ("profit_usd_id", "requested_by_created_at", "size_usd_id", "created_at_id"):
        op.drop_index(f"ix_trades_{name}", "trades")
