"""Alembic environment: runs on the connection the desk hands over (see backend/migrate.py)."""

from alembic import context

from backend.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
