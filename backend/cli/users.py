"""``users`` and ``tokens``: desk logins and script credentials.

Passwords come from a hidden prompt or ``--password-stdin`` (never an argument, which
would stay in the shell history and in ``ps``). Changes are audited with the
operating-system user who ran the command.
"""

from __future__ import annotations

import getpass
import sys

import click
from flask.cli import AppGroup

from backend.desk import current_desk
from backend.web import tokens, users
from backend.web.access import ROLES, WHAT_ROLES_MAY

users_cli = AppGroup("users", help="Desk logins and their roles.")
tokens_cli = AppGroup("tokens", help="API tokens for scripts (Authorization: Bearer ...).")

password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
role_help = "; ".join(f"{role}: {what}" for role, what in WHAT_ROLES_MAY.items())


def operator() -> str:
    return f"cli:{getpass.getuser()}"


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def change(fn, *args, **kwargs):
    """Run one audited change in a transaction; a refusal is a usage error, nothing changed."""
    desk = current_desk()
    try:
        with desk.sessions.begin() as session:
            return fn(session, *args, actor=operator(), now=desk.now(), **kwargs)
    except users.UserError as exc:
        raise click.UsageError(str(exc)) from None


@users_cli.command("create")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(ROLES), default="trader", show_default=True, help=role_help
)
@password_stdin
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Create a login."""
    change(users.create, username, role, read_password(password_stdin))
    click.echo(f"created {role} {username}")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(username: str, role: str) -> None:
    """Change a user's role; their open sessions end."""
    change(users.set_role, username, role)
    click.echo(f"{username} is now {role}")


@users_cli.command("set-password")
@click.argument("username")
@password_stdin
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set a new password; the user's open sessions end."""
    change(users.set_password, username, read_password(password_stdin))
    click.echo(f"password of {username} changed")


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Refuse this user's logins, sessions and tokens from now on."""
    change(users.set_disabled, username, True)
    click.echo(f"{username} disabled")


@users_cli.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    change(users.set_disabled, username, False)
    click.echo(f"{username} enabled")


@users_cli.command("list")
def users_list() -> None:
    desk = current_desk()
    with desk.sessions() as session:
        for u in users.everyone(session):
            state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
            click.echo(f"{u.username:<24} {u.role:<8} {state:<20} since {u.created_at:%Y-%m-%d}")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option("--expires", default=None, help="Lifetime such as 30d, 12h or 90m; none by default.")
def tokens_create(name: str, username: str, expires: str | None) -> None:
    """Create a token and print it once, on its own line; only its hash is kept."""
    try:
        lifetime = tokens.parse_duration(expires) if expires else None
    except users.UserError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None
    raw = change(tokens.create, name, username, lifetime)
    click.echo(f"token {name} for {username} (shown once; store it now):", err=True)
    click.echo(raw)


@tokens_cli.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """End a token at once."""
    change(tokens.revoke, name)
    click.echo(f"token {name} revoked")


@tokens_cli.command("list")
def tokens_list() -> None:
    desk = current_desk()
    now = desk.now()
    with desk.sessions() as session:
        for t in tokens.everyone(session):
            if t.revoked_at:
                state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}"
            elif t.expires_at and t.expires_at <= now:
                state = "expired"
            else:
                state = f"expires {t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "no expiry"
            used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
            click.echo(f"{t.name:<24} {t.user.username:<20} {state:<26} {used}")
