"""On PostgreSQL too, the triggers end what every process remembers of a token or a login
at once; recording a token's use (once a minute) ends nothing."""

from __future__ import annotations

from sqlalchemy import select, text

from backend import create_app, migrate
from backend.models import ApiToken, AuthState
from backend.web import tokens, users
from tests.conftest import add_token, add_user

PRICES = "/api/v1/prices"


def bearer(app, raw: str):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return client


def generation(desk) -> int:
    with desk.sessions() as session:
        return session.get(AuthState, 1).generation


def test_a_revoke_or_a_disable_is_refused_at_once_by_every_process(pg_settings):
    migrate.upgrade(pg_settings)
    one, two = create_app(pg_settings), create_app(pg_settings)
    desk = one.extensions["desk"]
    add_user(desk, "tina", "trader")
    raw, other = add_token(desk, "tina"), add_token(desk, "tina")
    mine, theirs = bearer(one, raw), bearer(two, raw)
    assert mine.get(PRICES).status_code == theirs.get(PRICES).status_code == 200

    before = generation(desk)
    with desk.sessions.begin() as session:  # what a request does once a minute
        for token in session.scalars(select(ApiToken)):
            token.last_used_at = desk.now()
    assert generation(desk) == before

    with desk.sessions.begin() as session:
        name = next(t.name for t in tokens.everyone(session) if t.token_hash == tokens.digest(raw))
        tokens.revoke(session, name, actor="test", now=desk.now())
    assert mine.get(PRICES).status_code == theirs.get(PRICES).status_code == 401

    theirs = bearer(two, other)
    assert theirs.get(PRICES).status_code == 200
    with desk.sessions.begin() as session:
        users.set_disabled(session, "tina", True, actor="test", now=desk.now())
    assert theirs.get(PRICES).status_code == 401
    with desk.sessions.begin() as session:
        users.set_disabled(session, "tina", False, actor="test", now=desk.now())
    assert theirs.get(PRICES).status_code == 200
    with desk.engine.begin() as connection:  # by hand, as an operator in psql would
        connection.execute(text("UPDATE users SET disabled_at = now()"))
    assert theirs.get(PRICES).status_code == 401
