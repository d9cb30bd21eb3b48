"""Tokens and sessions are remembered per process, yet a revoked token, a disabled user,
a new role or a new password is refused on the very next request in every process: two
apps on one database stand for two gunicorn workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from backend import create_app
from backend.models import AuthEvent
from backend.web import credentials, tokens, users
from tests.conftest import add_token, add_user
from tests.unit.test_login import log_in

PRICES = "/api/v1/prices"
CONTROLS = "/api/v1/controls"  # a POST is for admins


@pytest.fixture
def other(app, settings):
    """A second process's app on the same database."""
    return create_app(settings)


@pytest.fixture
def token(desk):
    add_user(desk, "tina", "admin")
    return add_token(desk, "tina")


def bearer(app, raw: str):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return client


@pytest.fixture
def lookups(monkeypatch):
    """How many requests went to the database for their token."""
    calls = []
    real = tokens.resolve

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens, "resolve", counted)
    return calls


def change(desk, fn, *args):
    with desk.sessions.begin() as session:
        fn(session, *args, actor="test", now=desk.now())


def test_a_token_is_looked_up_once_then_remembered(app, token, lookups):
    client = bearer(app, token)
    assert [client.get(PRICES).status_code for _ in range(5)] == [200] * 5
    assert len(lookups) == 1


def test_a_revoked_token_is_refused_at_once_by_every_process(app, other, desk, token):
    mine, theirs = bearer(app, token), bearer(other, token)
    assert mine.get(PRICES).status_code == theirs.get(PRICES).status_code == 200
    name = tokens.everyone(desk.sessions())[0].name
    change(desk, tokens.revoke, name)
    assert mine.get(PRICES).status_code == theirs.get(PRICES).status_code == 401


def test_a_disabled_user_is_refused_at_once_and_enabled_again(app, other, desk, token):
    client = bearer(other, token)
    assert client.get(PRICES).status_code == 200
    change(desk, users.set_disabled, "tina", True)
    assert client.get(PRICES).status_code == 401
    change(desk, users.set_disabled, "tina", False)
    assert client.get(PRICES).status_code == 200


def test_a_new_role_holds_from_the_next_request(app, other, desk, token):
    client = bearer(other, token)
    assert client.post(CONTROLS, json={}).status_code == 400  # let in; the body is empty
    change(desk, users.set_role, "tina", "viewer")
    assert client.post(CONTROLS, json={}).status_code == 403
    assert client.get(PRICES).status_code == 200


def test_a_change_made_by_hand_in_sql_is_seen_too(app, other, desk, token):
    client = bearer(other, token)
    assert client.get(PRICES).status_code == 200
    with desk.sessions.begin() as session:
        session.execute(text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"))
    assert client.get(PRICES).status_code == 401


def test_an_expired_token_is_refused_although_remembered(app, desk, monkeypatch):
    add_user(desk, "tina", "viewer")
    with desk.sessions.begin() as session:
        raw = tokens.create(
            session, "soon", "tina", timedelta(minutes=5), actor="t", now=desk.now()
        )
    client = bearer(app, raw)
    assert client.get(PRICES).status_code == 200
    later = desk.now() + timedelta(minutes=5)
    monkeypatch.setattr(desk, "now", lambda: later)
    assert client.get(PRICES).status_code == 401


def test_a_session_ends_at_once_in_every_process(app, other, desk):
    add_user(desk, "tina", "trader")
    browser = other.test_client()
    assert log_in(browser, "tina").status_code == 302
    assert browser.get(PRICES).status_code == 200
    change(desk, users.set_password, "tina", "a brand new password")
    assert browser.get(PRICES).status_code == 401


def test_a_row_read_before_a_concurrent_change_is_not_remembered(app, desk, token, lookups):
    """A request reads the generation, then the token; a change commits in between and
    another request sees its generation: what the first read must not be kept."""
    real = tokens.resolve  # the counting one
    remembered = app.extensions["credentials"]

    def change_meanwhile(*args, **kwargs):
        found = real(*args, **kwargs)
        with desk.engine.begin() as connection:
            connection.execute(text("UPDATE users SET locale = 'es'"))
        remembered._current(desk)  # another request, after the change
        return found

    client = bearer(app, token)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokens, "resolve", change_meanwhile)
        assert client.get(PRICES).status_code == 200
    assert client.get(PRICES).status_code == 200
    assert len(lookups) == 2  # looked up again, not served from what was read before


def test_a_remembered_token_is_looked_up_again_each_minute_to_record_its_use(
    app, desk, token, lookups
):
    now = [0.0]
    app.extensions["credentials"] = credentials.Credentials(clock=lambda: now[0])
    client = bearer(app, token)
    client.get(PRICES)
    now[0] = credentials.MAX_AGE_SECONDS - 1
    client.get(PRICES)
    assert len(lookups) == 1
    now[0] = credentials.MAX_AGE_SECONDS + 1
    client.get(PRICES)
    assert len(lookups) == 2
    with desk.sessions() as session:
        assert session.query(AuthEvent).filter_by(kind="token_used").count() == 1  # < 1 min


def test_without_the_generation_row_nothing_is_remembered(app, desk, token, lookups):
    with desk.engine.begin() as connection:
        connection.execute(text("DELETE FROM auth_state"))
    client = bearer(app, token)
    assert [client.get(PRICES).status_code for _ in range(3)] == [200] * 3
    assert len(lookups) == 3


def test_a_database_error_reading_the_generation_is_raised_as_sqlalchemy_raises_it(
    app, desk, token
):
    """So the outage handler answers 503 naming the database, as for any other query."""
    with desk.engine.begin() as connection:
        connection.execute(text("DROP TABLE auth_state"))  # sqlite3.OperationalError
    answer = bearer(app, token).get(PRICES)
    assert (answer.status_code, answer.json["component"]) == (503, "db")
