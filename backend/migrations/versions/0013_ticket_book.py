"""An operator ticket remembers when the book it was priced on was fetched, so what its
confirmation took is recorded against that book, not against whatever fetch is newest
when the operator confirms (which may already show the trade: counted twice).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operator_tickets") as batch:
        batch.add_column(sa.Column("book_fetched_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operator_tickets") as batch:
        batch.drop_column("book_fetched_at")
