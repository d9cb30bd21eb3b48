"""``db``: schema migrations and the seed a fresh desk needs."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from backend import migrate, seed
from backend.desk import current_desk
from backend.web import users

db_cli = AppGroup("db", help="Schema migrations.")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
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
    """Insert markets, control defaults and paper balances that are missing; on the
    embedded demo, a first admin whose password is printed once."""
    desk = current_desk()
    with desk.sessions.begin() as session:
        seed.seed(session, desk.settings, desk.now())
        password = seed.demo_admin(session, desk.settings, desk.now())
        no_admin = not users.admins_exist(session)
    click.echo("seeded")
    if password:
        click.secho(
            f"Demo login: user admin, password {password}  (shown once; change it with "
            "`.venv/bin/python -m backend users set-password admin`)",
            fg="yellow",
        )
    elif no_admin:
        click.secho(
            "No admin exists: create one with `python -m backend users create NAME --role admin`",
            fg="yellow",
        )
