"""Operator commands through Flask's CLI runner, on the embedded database."""

from sqlalchemy import select

from backend.models import User
from backend.trading import controls


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_the_kill_switch_is_set_from_the_command_line(app, desk):
    result = run(app, "controls", "set", "kill_switch", "TRUE", "--reason", "bank outage")
    assert result.exit_code == 0, result.output
    with desk.sessions() as session:
        assert controls.load(session, desk.settings).kill_switch is True
    assert "kill_switch = true" in run(app, "controls", "show").output


def test_a_bad_control_value_is_refused_and_changes_nothing(app, desk):
    result = run(app, "controls", "set", "max_trade_usd", "lots", "--reason", "x")
    assert result.exit_code == 2 and "max_trade_usd 'lots' is not a plain number" in result.output
    result = run(app, "controls", "set", "kill_switchh", "true", "--reason", "x")
    assert result.exit_code == 2 and "unknown control" in result.output
    with desk.sessions() as session:
        assert controls.load(session, desk.settings).max_trade_usd == desk.settings.max_trade_usd


def test_users_are_created_with_a_hashed_password_and_a_role(app, desk):
    result = run(
        app, "users", "create", "ana", "--role", "admin", "--password-stdin", input="s3cret-long!\n"
    )
    assert result.exit_code == 0, result.output
    with desk.sessions() as session:
        user = session.scalars(select(User)).one()
    assert user.role == "admin" and "s3cret-long!" not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    again = run(app, "users", "create", "ana", "--password-stdin", input="another-long-one\n")
    assert again.exit_code == 2 and "already exists" in again.output


def test_a_password_too_short_is_refused_and_creates_nobody(app, desk):
    result = run(app, "users", "create", "bo", "--password-stdin", input="short\n")
    assert result.exit_code == 2 and "at least 10 characters" in result.output
    with desk.sessions() as session:
        assert session.scalars(select(User)).all() == []


def test_roles_passwords_and_disabling_are_changed_and_audited(app, desk):
    from backend.models import AuthEvent

    run(app, "users", "create", "ana", "--password-stdin", input="a long password\n")
    assert run(app, "users", "set-role", "ana", "admin").exit_code == 0
    assert run(app, "users", "set-password", "ana", "--password-stdin", input="another one!\n")
    assert run(app, "users", "disable", "ana").exit_code == 0
    listing = run(app, "users", "list").output
    assert "ana" in listing and "admin" in listing and "disabled" in listing
    assert run(app, "users", "set-role", "nobody", "admin").exit_code == 2
    with desk.sessions() as session:
        kinds = [e.kind for e in session.scalars(select(AuthEvent).order_by(AuthEvent.id))]
        user = session.scalars(select(User)).one()
    assert kinds == ["user_created", "role_changed", "password_changed", "user_disabled"]
    assert user.session_version == 4 and "another one!" not in user.password_hash


def test_a_token_is_printed_once_on_its_own_line_and_revoked_at_once(app, desk):
    from backend.models import ApiToken

    run(app, "users", "create", "bot", "--password-stdin", input="a long password\n")
    result = app.test_cli_runner().invoke(
        args=["tokens", "create", "nightly", "--user", "bot", "--expires", "30d"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("desk_") and "\n" not in token and "shown once" in result.stderr
    with desk.sessions() as session:
        row = session.scalars(select(ApiToken)).one()
    assert token not in row.token_hash and (row.expires_at - row.created_at).days == 30
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/prices", headers=headers).status_code == 200
    assert "nightly" in run(app, "tokens", "list").output
    assert run(app, "tokens", "revoke", "nightly").exit_code == 0
    assert client.get("/api/v1/prices", headers=headers).status_code == 401
    assert run(app, "tokens", "create", "x", "--user", "bot", "--expires", "soon").exit_code == 2
