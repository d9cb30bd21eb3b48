"""``controls``: the kill switch and limits every process obeys, changed with a reason."""

from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.trading import controls

controls_cli = AppGroup("controls", help="Kill switch and limits every process obeys.")


@controls_cli.command("show")
def controls_show() -> None:
    desk = current_desk()
    with desk.sessions() as session:
        current = controls.load(session, desk.settings)
    for key, value in controls.as_strings(current).items():
        click.echo(f"{key} = {value}")


@controls_cli.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--reason", required=True, help="Why; kept in the control history.")
def controls_set(key: str, value: str, reason: str) -> None:
    """e.g. `controls set kill_switch true --reason "bank outage"`; every worker obeys it on
    its next trade. Recorded with the operating-system user who ran it."""
    desk = current_desk()
    actor = f"cli:{getpass.getuser()}"
    try:
        with desk.sessions.begin() as session:
            controls.change(session, key, value, actor=actor, now=desk.now(), reason=reason)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{key} = {value.lower() if key == 'kill_switch' else value}")


def _switch(on: bool):
    name = "pause" if on else "resume"

    @controls_cli.command(name, help=f"{name.title()} trading (the kill switch), with a reason.")
    @click.option("--reason", required=True, help="Why; kept in the control history.")
    def command(reason: str) -> None:
        desk = current_desk()
        try:
            with desk.sessions.begin() as session:
                controls.pause(session, on, actor=f"cli:{getpass.getuser()}", now=desk.now(),
                               reason=reason)  # fmt: skip
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo("trading paused" if on else "trading resumed")

    return command


_switch(True)
_switch(False)


@controls_cli.command("history")
@click.option("--limit", default=20, show_default=True)
def controls_history(limit: int) -> None:
    """The latest changes: when, who, what and why."""
    desk = current_desk()
    with desk.sessions() as session:
        for c in controls.history(session, limit):
            click.echo(
                f"{c.at:%Y-%m-%d %H:%M:%S} {c.actor:<16} {c.key} {c.old_value} -> "
                f"{c.new_value}  {c.reason or ''}"
            )
