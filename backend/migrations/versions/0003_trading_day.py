"""The trading day: a lease on executing trades, the double-entry ledger (accounts,
journal entries, postings) replacing the stored balances, and liquidity takes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.types import Money, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(128)))
        batch.add_column(sa.Column("lease_until", UTCDateTime))
    op.drop_table("balances")
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("trade_id", sa.Integer, sa.ForeignKey("trades.id"), index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "entry_id",
            sa.Integer,
            sa.ForeignKey("journal_entries.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("trade_id", sa.Integer, sa.ForeignKey("trades.id"), index=True),
        sa.Column(
            "account", sa.String(64), sa.ForeignKey("accounts.name"), nullable=False, index=True
        ),
        sa.Column("currency", sa.String(10), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "liquidity_takes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("market", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("ad_no", sa.String(40), nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("quantity", Money, nullable=False),
        sa.Column("trade_id", sa.Integer, sa.ForeignKey("trades.id"), nullable=False, index=True),
    )
    op.create_index(
        "ix_liquidity_takes_market_fetched_at", "liquidity_takes", ["market", "fetched_at"]
    )


def downgrade() -> None:
    for table in ("liquidity_takes", "postings", "journal_entries", "accounts"):
        op.drop_table(table)
    op.create_table(
        "balances",
        sa.Column("currency", sa.String(10), primary_key=True),
        sa.Column("amount", Money, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
