"""Reads the web can keep in process memory: a generation every change to a login or a
token bumps (so cached credentials end at once), and the Prices board in its own column.

The generation is bumped by triggers, not by the application, so a change made by any
path (the CLI, the API, SQL typed by hand) ends what every process remembers. A token's
``last_used_at`` is written once a minute and changes nobody's access: it bumps nothing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TOKEN_COLUMNS = "name, user_id, token_hash, expires_at, revoked_at"
SQLITE_TRIGGERS = {
    "users": ("INSERT", "UPDATE", "DELETE"),
    "api_tokens": ("INSERT", f"UPDATE OF {TOKEN_COLUMNS}", "DELETE"),
}


def upgrade() -> None:
    op.create_table(
        "auth_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO auth_state (id, generation) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_auth_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE auth_state SET generation = generation + 1; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER users_bump_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON users FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_generation()"
        )
        op.execute(
            f"CREATE TRIGGER api_tokens_bump_auth AFTER INSERT OR UPDATE OF {TOKEN_COLUMNS} "
            "OR DELETE OR TRUNCATE ON api_tokens "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_generation()"
        )
    else:
        for table, events in SQLITE_TRIGGERS.items():
            for event in events:
                op.execute(
                    f"CREATE TRIGGER {table}_bump_auth_{event.split()[0].lower()} "
                    f"AFTER {event} ON {table} "
                    "BEGIN UPDATE auth_state SET generation = generation + 1; END"
                )

    with op.batch_alter_table("latest_books") as batch:
        batch.add_column(sa.Column("board", sa.Text))
    latest = sa.table(
        "latest_books", sa.column("market"), sa.column("book", sa.JSON), sa.column("board")
    )
    bind = op.get_bind()
    for market, book in bind.execute(sa.select(latest.c.market, latest.c.book)).all():
        board = book.pop("board", None)
        bind.execute(
            latest.update()
            .where(latest.c.market == market)
            .values(book=book, board=json.dumps(board) if board else None)
        )


def downgrade() -> None:
    with op.batch_alter_table("latest_books") as batch:
        batch.drop_column("board")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER api_tokens_bump_auth ON api_tokens")
        op.execute("DROP TRIGGER users_bump_auth ON users")
        op.execute("DROP FUNCTION bump_auth_generation()")
    else:
        for table, events in SQLITE_TRIGGERS.items():
            for event in events:
                op.execute(f"DROP TRIGGER {table}_bump_auth_{event.split()[0].lower()}")
    op.drop_table("auth_state")
