"""``db``: schema migrations and the seed a fresh desk needs."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from backend import migrate, seed
from backend.desk import current_desk

db_cli = AppGroup("db", help="Schema migrations.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (TimescaleDB features only where the extension exists)."""
    migrate.upgrade(current_desk().settings, revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    migrate.downgrade(current_desk().settings, revision)
    click.echo(f"database at {revision}")


@db_cli.command("seed")
def db_seed() -> None:
    """Insert markets, control defaults and paper balances that are missing."""
    desk = current_desk()
    with desk.sessions.begin() as session:
        seed.seed(session, desk.settings)
    click.echo("seeded")
