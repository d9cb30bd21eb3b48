"""The history's rollups count a trade in the markets of the cycle it was requested for
as well as its legs' (``trade_days.planned_markets``): a request refused before any leg
filled was counted under "all markets" only, so a market's totals left it out. Added up
again from the trades.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from alembic import op

from backend.trading import trade_buckets, trade_days, trade_hours

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    trade_days.rebuild(bind)
    trade_buckets.rebuild(bind)
    trade_hours.rebuild(bind)


def downgrade() -> None:
    """Nothing to undo: the earlier code reads these rows, a refused trade's markets
    among them, as it read its own (``ledger check`` would name them as drift)."""
