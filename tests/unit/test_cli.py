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
    assert "kill_switch = True" in run(app, "controls", "show").output


def test_a_bad_control_value_is_refused_and_changes_nothing(app, desk):
    result = run(app, "controls", "set", "max_trade_usd", "lots", "--reason", "x")
    assert result.exit_code == 2 and "max_trade_usd 'lots' is not a number" in result.output
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
