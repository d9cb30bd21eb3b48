"""An Idempotency-Key belongs to the user who sent it: unique per (requested_by, key),
not across the house. With one key space, a second trader's request under a key the first
had used was answered with the first trader's trade, and placed nothing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# PostgreSQL's name for the unnamed UNIQUE of 0001; SQLite's is given the same one here
NAMES = {"uq": "%(table_name)s_%(column_0_name)s_key"}
OLD = "trades_idempotency_key_key"
NEW = "uq_trades_requested_by_idempotency_key"


def upgrade() -> None:
    with op.batch_alter_table("trades", naming_convention=NAMES) as batch:
        batch.drop_constraint(OLD, type_="unique")
        batch.create_unique_constraint(NEW, ["requested_by", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("trades", naming_convention=NAMES) as batch:
        batch.drop_constraint(NEW, type_="unique")
        batch.create_unique_constraint(OLD, ["idempotency_key"])
