"""Latest books through a real Redis, and the desk carrying on when Redis is gone."""

import socket

from backend.cache import RedisCache
from backend.market import ingest, latest
from tests.conftest import api_client
from tests.factories import NOW, ad, book
from tests.unit.test_metrics import sample


def test_latest_books_are_served_from_redis(service_app):
    desk = service_app.extensions["desk"]
    b = book("p2p:USDT/ARS", [ad(1460, 900)], [ad(1450, 900)], fetched_at=NOW)
    with desk.sessions.begin() as session:
        ingest.store(session, desk.cache, desk.settings, b, NOW)
    assert desk.cache.get(latest.PREFIX + "p2p:USDT/ARS") is not None
    client = api_client(service_app)
    before = sample(client.get("/api/v1/metrics").text, "redis_cache_hits_total")
    with desk.sessions() as session:
        assert latest.get(session, desk.cache, "p2p:USDT/ARS") == b
    assert sample(client.get("/api/v1/metrics").text, "redis_cache_hits_total") == before + 1


def test_a_dead_redis_reads_as_a_miss_and_locks_fall_back_to_the_process(service_app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = RedisCache(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    assert dead.get("anything") is None
    dead.set("anything", "value", 5)  # dropped, no exception
    assert dead.add("lock", "1", 5) is True and dead.add("lock", "1", 5) is False
    desk = service_app.extensions["desk"]
    b = book("p2p:USDT/MXN", [ad(18.5, 900)], [ad(18.4, 900)], fetched_at=NOW)
    with desk.sessions.begin() as session:
        ingest.store(session, dead, desk.settings, b, NOW)
    with desk.sessions() as session:
        assert latest.get(session, dead, "p2p:USDT/MXN") == b  # from the table
