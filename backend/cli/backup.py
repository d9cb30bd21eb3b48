"""``backup FILE`` and ``restore FILE``: the whole database to one file and back."""

from __future__ import annotations

from pathlib import Path

import click

from backend.desk import current_desk
from backend.ops import backup as backups


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write a backup of the database to FILE (pg_dump custom format, or a SQLite copy)."""
    try:
        backups.backup(current_desk().settings, file)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {file} ({file.stat().st_size:,} bytes)")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.confirmation_option(
    prompt="This replaces every row of the desk's database with the backup's. Continue?"
)
def restore_command(file: Path) -> None:
    """Replace the database's contents with FILE's. Stop web, worker and beat first."""
    try:
        backups.restore(current_desk().settings, file)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored from {file}")
