import socket
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from backend.desk import Desk
from backend.web.health import HEARTBEAT_KEY, HEARTBEAT_MAX_AGE, Down, probe_celery
from tasks import heartbeat
from tests.conftest import embedded_settings, prepared_app


def beat_heartbeat(desk):
    with desk.sessions.begin() as session:
        heartbeat.record(session, desk.now())


def test_embedded_health_says_redis_and_rabbitmq_are_not_configured(client, desk):
    beat_heartbeat(desk)
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json["status"] == "ok"
    parts = r.json["components"]
    assert parts["db"]["status"] == "ok" and parts["celery"]["status"] == "ok"
    assert parts["redis"] == parts["redis"] | {"status": "not configured", "required": False}
    assert parts["rabbitmq"]["status"] == "not configured"
    assert all("latency_ms" in p for p in parts.values())


def test_no_worker_heartbeat_means_celery_is_down_and_the_desk_answers_503(client):
    r = client.get("/api/v1/health/celery")
    assert r.status_code == 503
    assert r.json["components"]["celery"]["error"] == "no worker heartbeat yet"
    assert client.get("/api/v1/health").status_code == 503


def test_each_component_has_its_own_url(client, desk):
    beat_heartbeat(desk)
    for name in ("db", "redis", "rabbitmq", "celery"):
        r = client.get(f"/api/v1/health/{name}")
        assert r.status_code == 200 and list(r.json["components"]) == [name]
    assert client.get("/api/v1/health/nosuch").status_code == 404


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_redis_and_broker_are_reported_down_within_the_time_bound(tmp_path):
    port = closed_port()
    app = prepared_app(
        embedded_settings(
            tmp_path,
            redis_url=f"redis://127.0.0.1:{port}/0",
            rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{port}//",
        )
    )
    start = time.monotonic()
    r = app.test_client().get("/api/v1/health")
    assert time.monotonic() - start < 5
    assert r.status_code == 503
    parts = r.json["components"]
    assert parts["redis"]["status"] == "down" and parts["rabbitmq"]["status"] == "down"
    assert parts["db"]["status"] == "ok"
    # A refused connection is known at once: say so, not "no answer within 2 s".
    assert "refused" in parts["rabbitmq"]["error"].lower(), parts["rabbitmq"]
    assert parts["rabbitmq"]["latency_ms"] < 1000
    assert "refused" in parts["redis"]["error"].lower(), parts["redis"]


def test_not_configured_is_neither_up_nor_down_in_the_metrics(tmp_path):
    """In a process of its own (metrics files are per process): gunicorn, embedded."""
    import requests

    from tests.conftest import web_only
    from tests.unit.test_metrics import sample

    with web_only(tmp_path) as (url, _tokens):
        # Generous: the workers may still be importing the app on a busy machine.
        requests.get(url + "/api/v1/health", timeout=60)
        text = requests.get(url + "/api/v1/metrics", timeout=60).text
    assert sample(text, "health_component_configured", component="redis") == 0
    assert sample(text, "health_component_configured", component="db") == 1
    assert sample(text, "health_component_up", component="db") == 1
    assert 'health_component_up{component="redis"}' not in text
    assert 'health_component_up{component="rabbitmq"}' not in text


def test_a_storm_of_checks_reads_the_monitor_instead_of_probing(client, desk):
    beat_heartbeat(desk)
    first = client.get("/api/v1/health").json["checked_at"]
    start = time.monotonic()
    seen = {client.get("/api/v1/health").json["checked_at"] for _ in range(200)}
    assert time.monotonic() - start < 5
    assert len(seen) <= 2 + (time.monotonic() - start) / desk.settings.health_refresh_seconds
    assert first in seen or len(seen) >= 1


def test_the_monitor_answers_down_for_a_hung_probe_within_the_bound(tmp_path):
    import socket as _socket

    listener = _socket.socket()  # accepts, never answers: a hung Redis
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    app = prepared_app(embedded_settings(tmp_path, redis_url=f"redis://127.0.0.1:{port}/0"))
    client = app.test_client()
    start = time.monotonic()
    r = client.get("/api/v1/health/redis")
    assert time.monotonic() - start < 4  # first round: one probe timeout at most
    assert r.status_code == 503 and r.json["components"]["redis"]["status"] == "down"
    start = time.monotonic()
    for _ in range(20):
        assert client.get("/api/v1/health/redis").status_code == 503
    assert time.monotonic() - start < 1  # answered from the monitor's results
    listener.close()


class Stamped:
    """Redis as the health probe reads it: shared, holding one heartbeat stamp."""

    shared = True

    def __init__(self, stamp=None):
        self.stamp = stamp

    def get(self, key):
        return self.stamp.isoformat().encode() if key == HEARTBEAT_KEY and self.stamp else None

    def set(self, key, value, ttl):
        assert key == HEARTBEAT_KEY and ttl > HEARTBEAT_MAX_AGE
        self.stamp = datetime.fromisoformat(value)


class DatabaseDown:
    """``sessions()`` and ``sessions.begin()`` as a stopped PostgreSQL answers them."""

    def __call__(self):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    begin = __call__


def database_down(monkeypatch):
    monkeypatch.setattr(Desk, "sessions", property(lambda _desk: DatabaseDown()))


def test_workers_stamped_in_redis_stay_alive_while_the_database_is_down(desk, monkeypatch):
    """The database down is the database's failure, not the workers': health names it alone."""
    database_down(monkeypatch)
    monkeypatch.setattr(desk, "cache", Stamped(desk.now() - timedelta(seconds=4)))
    assert probe_celery(desk) == "ok"
    desk.cache.stamp = desk.now() - timedelta(seconds=31)  # and no newer one readable
    with pytest.raises(Down, match="last worker heartbeat 31 s ago"):
        probe_celery(desk)
    desk.cache.stamp = None  # Redis knows nothing: the database's failure is the answer
    with pytest.raises(OperationalError):
        probe_celery(desk)


def test_the_newest_stamp_of_redis_and_the_database_decides(desk, monkeypatch):
    beat_heartbeat(desk)  # the database's: now
    monkeypatch.setattr(desk, "cache", Stamped(desk.now() - timedelta(seconds=50)))
    assert probe_celery(desk) == "ok"  # a Redis write was lost: the database's is newer


def test_the_heartbeat_task_stamps_redis_before_the_database(app, desk, monkeypatch):
    from tasks.heartbeat import beat

    monkeypatch.setattr(desk, "cache", Stamped())
    database_down(monkeypatch)
    before = desk.now()
    with app.app_context(), pytest.raises(OperationalError):
        beat.run()  # the database refuses: Celery retries the task
    assert before <= desk.cache.stamp <= desk.now()
