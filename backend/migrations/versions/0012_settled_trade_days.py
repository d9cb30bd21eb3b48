"""The daily rollup (trade_days) holds settled trades only: the rows of trades in flight
(requested, queued, executing, ...) go; the totals count those from the trades. A trade's
request, its queued mark and its claim then change no rollup row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from alembic import op

from backend.trading import trade_days

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    trade_days.rebuild(op.get_bind())


def downgrade() -> None:
    trade_days.rebuild(op.get_bind(), trade_days.SETTLED | trade_days.IN_FLIGHT)
