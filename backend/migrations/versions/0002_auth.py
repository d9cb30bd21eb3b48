"""Logins: users can be disabled and their sessions ended; API tokens; auth and control
audit; who moved each trade.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from backend.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", UTCDateTime))
        batch.add_column(
            sa.Column("session_version", sa.Integer, nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("locale", sa.String(8)))
    with op.batch_alter_table("trade_events") as batch:
        batch.add_column(sa.Column("actor", sa.String(64)))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.Column("last_used_at", UTCDateTime),
    )
    op.create_table(
        "auth_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("ip", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_table(
        "control_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text),
    )


def downgrade() -> None:
    for table in ("control_changes", "auth_events", "api_tokens"):
        op.drop_table(table)
    with op.batch_alter_table("trade_events") as batch:
        batch.drop_column("actor")
    with op.batch_alter_table("users") as batch:
        for column in ("locale", "session_version", "disabled_at"):
            batch.drop_column(column)
