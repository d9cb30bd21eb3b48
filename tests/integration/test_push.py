"""Pushed updates through a real Redis: what ingest, the scan and the executor announce
reaches an open stream at once, bursts arrive as one event, and a process never gives
all its threads to streams."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from backend import push
from backend.cache import RedisCache
from tests.conftest import api_client, embedded_settings, prepared_app


@pytest.fixture
def cache(redis_url):
    return RedisCache(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:")


def collect(chunks, into: list, stop: threading.Event) -> None:
    for chunk in chunks:
        into.append(chunk)
        if stop.is_set():
            break


def test_announcements_reach_the_stream_coalesced_and_filtered(cache):
    got, stop = [], threading.Event()
    reader = threading.Thread(
        target=collect, args=(push.events(cache, {"prices", "trades"}, 3), got, stop)
    )
    reader.start()
    time.sleep(0.3)  # subscribed
    started = time.monotonic()
    push.announce(cache, "prices", market="p2p:USDT/VES")
    push.announce(cache, "trades", id=7, status="filled")
    push.announce(cache, "opportunities")  # not asked for
    while not any(c.startswith("data:") for c in got) and time.monotonic() - started < 2:
        time.sleep(0.01)
    latency = time.monotonic() - started
    stop.set()
    reader.join(5)
    events = [c for c in got if c.startswith("data:")]
    assert events == ['data: ["prices", "trades"]\n\n']
    assert latency < 0.5
    assert got[0].startswith("retry: 250")


def test_the_stream_route_streams_with_redis_and_refuses_past_its_limit(tmp_path, redis_url):
    app = prepared_app(
        embedded_settings(tmp_path, redis_url=redis_url, push_max_streams=1, push_stream_seconds=1)
    )
    client = api_client(app, "viewer")
    first = client.get("/api/v1/stream?kinds=prices", buffered=False)
    assert first.status_code == 200 and first.mimetype == "text/event-stream"
    assert next(first.response).startswith(b"retry:")
    second = client.get("/api/v1/stream")
    assert second.status_code == 204 and "poll" in second.headers["X-Push-Unavailable"]
    first.close()  # the slot is given back
    third = client.get("/api/v1/stream", buffered=False)
    assert third.status_code == 200
    third.close()
    assert client.get("/api/v1/stream?kinds=gossip").status_code == 400


def test_a_stopping_process_ends_its_streams_within_a_second(cache):
    """gunicorn's SIGTERM sets ``closing`` (backend/gunicorn_conf.py): an open stream must
    not hold the graceful stop for its whole lifetime."""
    streams = push.Streams(2)
    assert streams.acquire()
    got, never = [], threading.Event()
    reader = threading.Thread(
        target=collect, args=(push.events(cache, {"prices"}, 60, streams.closing), got, never)
    )
    reader.start()
    time.sleep(0.3)
    streams.closing.set()
    started = time.monotonic()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - started < 1.5
    assert not streams.acquire()  # no new stream in a stopping process


def test_open_streams_leave_the_apps_threads_to_requests(tmp_path, redis_url, monkeypatch):
    """gunicorn with one app thread and three pages listening: a request is still answered
    at once, because streams run in a lane of their own (backend/web/lane.py)."""
    import requests

    from tests.conftest import web_only

    for name, value in {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}:",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "1",
        "PUSH_STREAM_SECONDS": "30",
    }.items():
        monkeypatch.setenv(name, value)
    with web_only(tmp_path) as (url, tokens):
        auth = {"Authorization": f"Bearer {tokens['viewer']}"}
        requests.get(f"{url}/api/v1/prices", headers=auth, timeout=30)  # warm
        streams = [
            requests.get(f"{url}/api/v1/stream", headers=auth, stream=True, timeout=10)
            for _ in range(3)
        ]
        try:
            assert [s.status_code for s in streams] == [200, 200, 200]
            started = time.monotonic()
            answer = requests.get(f"{url}/api/v1/prices", headers=auth, timeout=10)
            assert answer.status_code == 200
            assert time.monotonic() - started < 3
        finally:
            for s in streams:
                s.close()
