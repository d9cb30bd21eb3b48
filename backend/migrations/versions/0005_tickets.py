"""Operator tickets for live P2P legs; trade statuses long enough for awaiting_operator;
the legs of a live trade already sent to a venue.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.types import Money, UTCDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def _status_width(width: int) -> None:
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("status", type_=sa.String(width), existing_nullable=False)
    with op.batch_alter_table("trade_events") as batch:
        batch.alter_column("from_status", type_=sa.String(width), existing_nullable=True)
        batch.alter_column("to_status", type_=sa.String(width), existing_nullable=False)


def upgrade() -> None:
    _status_width(20)
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("legs_sent", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "operator_tickets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trade_id", sa.Integer, sa.ForeignKey("trades.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("market", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("method", sa.String(40)),
        sa.Column("sell_currency", sa.String(10), nullable=False),
        sa.Column("buy_currency", sa.String(10), nullable=False),
        sa.Column("planned_sell", Money, nullable=False),
        sa.Column("planned_buy", Money, nullable=False),
        sa.Column("instructions", sa.JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("sell_amount", Money),
        sa.Column("buy_amount", Money),
        sa.Column("fee", Money),
        sa.Column("reference", sa.String(100)),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("trade_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("operator_tickets")
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("legs_sent")
    _status_width(12)
