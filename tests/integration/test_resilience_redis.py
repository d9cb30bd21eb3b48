"""The token bucket and the breaker state are shared between workers through a real Redis."""

from __future__ import annotations

import uuid

import pybreaker
import pytest
import redis

from backend import resilience
from backend.config import Settings
from backend.market.errors import RateLimited, TransportError, UpstreamUnavailable

pytestmark = pytest.mark.services

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def name():
    """A fresh upstream name; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"redis at {REDIS} is not reachable ({exc})", pytrace=False)
    name = f"test_{uuid.uuid4().hex[:8]}"
    yield name
    for key in client.scan_iter(f"desk:*:{name}*"):
        client.delete(key)


def settings(**overrides) -> Settings:
    values = {
        "redis_url": REDIS,
        "http_retry_attempts": 1,
        "breaker_fail_max": 2,
        "breaker_reset_timeout_seconds": 60.0,
        "http_rate_burst": 2,
        "http_rate_max_wait_seconds": 0.0,
    } | overrides
    return Settings(_env_file=None, **values)


def worker(name: str, per_second: float = 1000.0, **overrides) -> resilience.Upstream:
    """What another worker process builds for the same upstream: nothing shared in memory."""
    return resilience.build_upstream(
        name, "http://127.0.0.1:9", settings(**overrides), per_second, sleep=lambda s: None
    )


def test_workers_draw_from_one_token_bucket(name):
    a, b = worker(name, per_second=1.0), worker(name, per_second=1.0)
    a.limiter.acquire()
    a.limiter.acquire()  # the burst of 2 is spent...
    with pytest.raises(RateLimited):
        b.limiter.acquire()  # ...for every worker


def test_a_breaker_opened_by_one_worker_is_open_for_the_others(name):
    a, b = worker(name), worker(name)
    assert isinstance(a.breaker._state_storage, pybreaker.CircuitRedisStorage)

    def failing():
        raise TransportError("refused", reason="connection")

    for _ in range(2):
        with pytest.raises(TransportError):
            a.call(failing)

    calls = []
    with pytest.raises(UpstreamUnavailable):
        b.call(lambda: calls.append(1))
    assert calls == []
    assert b.breaker.current_state == pybreaker.STATE_OPEN


def test_a_closed_breaker_is_closed_for_everyone_after_recovery(name):
    a, b = worker(name), worker(name)

    def failing():
        raise TransportError("refused", reason="connection")

    for _ in range(2):
        with pytest.raises(TransportError):
            a.call(failing)
    a.breaker.close()  # as a successful half-open trial does
    assert b.call(lambda: "ok") == "ok"
    assert b.breaker.current_state == pybreaker.STATE_CLOSED
