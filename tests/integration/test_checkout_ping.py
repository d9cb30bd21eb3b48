"""The pool's ping at checkout: skipped for a connection checked in a moment ago, sent
for one that sat idle longer; a fresh connection the server dropped meanwhile fails one
statement and is replaced, never reused."""

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend import db


@pytest.fixture
def pings(monkeypatch):
    sent = []
    plain = db.BoundedConnection.execute

    def execute(self, query, *args, **kwargs):
        sent.append(query)
        return plain(self, query, *args, **kwargs)

    monkeypatch.setattr(db.BoundedConnection, "execute", execute)
    return sent


def pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_checked_in_a_moment_ago_is_not_pinged_again(pg_engine, pings, monkeypatch):
    monkeypatch.setattr(db, "FRESH_SECONDS", 60)  # "a moment", however loaded the machine
    first = pid(pg_engine)
    assert pings == ["SELECT 1"]  # the new connection's first checkout
    assert pid(pg_engine) == first
    assert pings == ["SELECT 1"]


def test_a_connection_idle_longer_is_pinged(pg_engine, pings, monkeypatch):
    first = pid(pg_engine)
    monkeypatch.setattr(db, "FRESH_SECONDS", 0)
    assert pid(pg_engine) == first
    assert pings == ["SELECT 1", "SELECT 1"]


def test_a_fresh_connection_the_server_dropped_fails_once_then_is_replaced(pg_engine, monkeypatch):
    monkeypatch.setattr(db, "FRESH_SECONDS", 60)
    first = pid(pg_engine)
    admin = pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (first,))
    with pytest.raises(OperationalError), pg_engine.connect() as connection:
        connection.scalar(text("SELECT 1"))
    assert pid(pg_engine) != first
