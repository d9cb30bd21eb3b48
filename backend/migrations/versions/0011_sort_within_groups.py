"""The Trades grid sorted by user, strategy or status orders each value's trades by time
(column, created_at, id), so a jump deep into a group skips its whole days and walks
one day of the index, not the whole group: these indexes replace 0008's (column, id), and
the user's also 0006's (requested_by, created_at), of which it is a superset.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SORTS = ("requested_by", "strategy", "status")


def upgrade() -> None:
    for column in SORTS:
        op.drop_index(f"ix_trades_{column}_id", "trades")
        op.create_index(f"ix_trades_{column}_created_at_id", "trades", [column, "created_at", "id"])
    op.drop_index("ix_trades_requested_by_created_at", "trades")


def downgrade() -> None:
    for column in SORTS:
        op.drop_index(f"ix_trades_{column}_created_at_id", "trades")
        op.create_index(f"ix_trades_{column}_id", "trades", [column, "id"])
    op.create_index("ix_trades_requested_by_created_at", "trades", ["requested_by", "created_at"])
