"""A database or Redis that is away: 503 JSON naming it, at once once a breaker is open;
Redis costs one timeout and reads fall back to the table."""

from __future__ import annotations

import socket
import time

import pytest

from backend.cache import RedisCache
from backend.config import Settings
from backend.market import ingest, latest
from tests.factories import ad, book
from tests.integration.conftest import TEST_SECRET

KEYS = [f"p2p:USDT/X{i}" for i in range(11)]


@pytest.fixture
def hung_port():
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


def test_a_hung_redis_costs_one_timeout_then_reads_skip_it(hung_port):
    cache = RedisCache(f"redis://127.0.0.1:{hung_port}/0", timeout=0.3, reset_timeout=60)
    start = time.monotonic()
    assert cache.get_many(KEYS) == [None] * len(KEYS)  # one MGET, one timeout
    first = time.monotonic() - start
    start = time.monotonic()
    for _ in range(20):
        assert cache.get("anything") is None
        cache.set("anything", "v", 5)
    assert 0.25 < first < 1.5
    assert time.monotonic() - start < 0.3  # the breaker is open: nobody waits (40 calls)
    assert cache.breaker.current_state == "open"
    assert cache.add("lock", "1", 5) is True and cache.add("lock", "1", 5) is False


def test_latest_books_come_from_the_table_while_redis_hangs(service_app, hung_port):
    desk = service_app.extensions["desk"]
    hung = RedisCache(f"redis://127.0.0.1:{hung_port}/0", timeout=0.3)
    b = book("p2p:USDT/PEN", [ad(3.8, 900)], [ad(3.7, 900)], fetched_at=desk.now())
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, b, desk.now())
    start = time.monotonic()
    with desk.sessions() as session:
        assert latest.get_many(session, hung, ["p2p:USDT/PEN", *KEYS])["p2p:USDT/PEN"] == b
    assert time.monotonic() - start < 1.5


def test_every_key_carries_the_prefix(service_app, redis_url):
    desk = service_app.extensions["desk"]
    b = book("p2p:USDT/CLP", [ad(950, 900)], [ad(940, 900)], fetched_at=desk.now())
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, b, desk.now())
    client = desk.cache.client
    assert client.exists(f"{desk.settings.redis_prefix}latest:p2p:USDT/CLP")
    assert not client.exists("latest:p2p:USDT/CLP")


def test_a_database_that_hangs_answers_503_naming_it_then_at_once(hung_port):
    settings = Settings(
        _env_file=None,
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{hung_port}/nowhere",
        secret_key=TEST_SECRET,
        db_connect_timeout_seconds=2,
        db_breaker_fail_max=2,
        db_breaker_reset_timeout_seconds=60,
    )
    from backend import create_app

    app = create_app(settings)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer desk_some-token-the-database-must-check"
    answers = []
    for _ in range(4):
        start = time.monotonic()
        r = client.get("/api/v1/prices")
        answers.append((r.status_code, r.json.get("component"), time.monotonic() - start))
    assert all(status == 503 and component == "db" for status, component, _ in answers), answers
    assert answers[0][2] > 1.5  # the first ones wait for the connect timeout...
    assert answers[-1][2] < 0.5  # ...then the breaker is open: no attempt at all
    assert r.headers["Retry-After"] and "database" in r.json["error"]
    callback = client.post("/_dash-update-component", json={"output": "trades-table.children"})
    assert callback.status_code == 503 and callback.json["component"] == "db"
    page = app.test_client().get("/login", headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.mimetype == "text/html"
