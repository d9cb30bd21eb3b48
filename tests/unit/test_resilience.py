"""Retries, circuit breaker and token bucket of ``backend.resilience``, without Redis."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pybreaker
import pytest
from prometheus_client import REGISTRY

from backend import resilience
from backend.config import Settings
from backend.market.errors import (
    BadReply,
    EmptyBook,
    RateLimited,
    TransportError,
    UpstreamHTTPError,
    UpstreamRejected,
    UpstreamUnavailable,
)

DEAD_REDIS = "redis://127.0.0.1:9/0"  # nothing listens on the discard port


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def settings(**overrides) -> Settings:
    values = {
        "redis_url": None,
        "http_retry_backoff_seconds": 0.0,
        "http_retry_attempts": 3,
        "breaker_fail_max": 3,
        "breaker_reset_timeout_seconds": 60.0,
        "http_rate_burst": 100,
    } | overrides
    return Settings(_env_file=None, **values)


class Script:
    """A stand-in for one request+parse: raises the scripted errors, then returns "ok"."""

    def __init__(self, *outcomes: BaseException | str) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture
def name() -> str:
    return f"test_{uuid.uuid4().hex[:8]}"  # own metric series and breaker per test


@pytest.fixture
def sleeps() -> list[float]:
    return []


def upstream(name: str, sleeps: list[float], **overrides) -> resilience.Upstream:
    return resilience.build_upstream(
        name, "http://127.0.0.1:9", settings(**overrides), 1000.0, sleep=sleeps.append
    )


def down() -> TransportError:
    return TransportError("connection refused", reason="connection")


# --- Retry-After and backoff ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        ("0.25", 0.25),
        ("-4", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Fri, 27 Nov 2026 12:00:10 GMT", 10.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header, seconds):
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert resilience.retry_after_seconds(header, now) == seconds


def test_transient_errors_are_retried_with_bounded_jittered_backoff(name, sleeps):
    up = upstream(
        name,
        sleeps,
        http_retry_attempts=4,
        http_retry_backoff_seconds=0.1,
        breaker_fail_max=10,
        http_retry_max_wait_seconds=0.15,
    )
    script = Script(down(), UpstreamHTTPError(503, "busy"), down())
    before = metric("external_api_retries_total", upstream=name, reason="connection")

    assert up.call(script) == "ok"
    assert script.calls == 4
    assert len(sleeps) == 3 and all(0.1 <= s <= 0.15 for s in sleeps)
    assert metric("external_api_retries_total", upstream=name, reason="connection") - before == 2


def test_retry_after_is_waited_exactly(name, sleeps):
    up = upstream(name, sleeps, http_retry_backoff_seconds=3.0)
    assert up.call(Script(UpstreamHTTPError(429, "slow down", retry_after=0.02))) == "ok"
    assert sleeps == [0.02]


def test_attempts_are_bounded_and_the_last_error_surfaces(name, sleeps):
    up = upstream(name, sleeps, http_retry_attempts=3, breaker_fail_max=10)
    script = Script(*(UpstreamHTTPError(500, f"boom {i}") for i in range(5)))
    with pytest.raises(UpstreamHTTPError, match="boom 2"):
        up.call(script)
    assert script.calls == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        BadReply("<html>", reason="html"),
        UpstreamRejected("083932", "unsupported"),
        EmptyBook("no ads"),
        UpstreamHTTPError(404, "not found"),
        RateLimited("no token"),
    ],
)
def test_only_transient_errors_are_retried(name, sleeps, error):
    script = Script(error)
    with pytest.raises(type(error)):
        upstream(name, sleeps).call(script)
    assert script.calls == 1 and sleeps == []


# --- circuit breaker -----------------------------------------------------------------------


def test_breaker_opens_after_repeated_failures_and_then_fails_fast(name, sleeps):
    up = upstream(name, sleeps, http_retry_attempts=1, breaker_fail_max=3)
    opens = metric("circuit_breaker_opens_total", upstream=name)
    for _ in range(3):
        with pytest.raises(TransportError):
            up.call(Script(down()))

    assert up.breaker.current_state == pybreaker.STATE_OPEN
    assert metric("circuit_breaker_state", upstream=name) == 2
    assert metric("circuit_breaker_failures_total", upstream=name) == 3
    assert metric("circuit_breaker_opens_total", upstream=name) - opens == 1

    script = Script()
    with pytest.raises(UpstreamUnavailable):
        up.call(script)
    assert script.calls == 0  # no request at all while open
    assert metric("external_api_errors_total", upstream=name, reason="breaker_open") == 1


def test_breaker_closes_after_recovery(name, sleeps):
    up = upstream(
        name, sleeps, http_retry_attempts=1, breaker_fail_max=2, breaker_reset_timeout_seconds=0.05
    )
    for _ in range(2):
        with pytest.raises(TransportError):
            up.call(Script(down()))
    assert up.breaker.current_state == pybreaker.STATE_OPEN

    time.sleep(0.06)  # let the reset timeout elapse; the assertions do not depend on timing
    assert up.call(Script()) == "ok"  # the half-open trial call
    assert up.breaker.current_state == pybreaker.STATE_CLOSED
    assert metric("circuit_breaker_state", upstream=name) == 0


def test_an_open_breaker_reads_half_open_once_its_timeout_passed_without_a_call(name, sleeps):
    """A process that stopped calling must not hold the open-breaker alert on: once the
    reset timeout has passed its next call would try, and the gauge says so without one."""
    up = upstream(
        name, sleeps, http_retry_attempts=1, breaker_fail_max=1, breaker_reset_timeout_seconds=0.2
    )
    with pytest.raises(TransportError):
        up.call(Script(down()))
    assert metric("circuit_breaker_state", upstream=name) == 2
    deadline = time.monotonic() + 5
    while metric("circuit_breaker_state", upstream=name) == 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert metric("circuit_breaker_state", upstream=name) == 1
    assert up.breaker.current_state == pybreaker.STATE_OPEN  # pybreaker moves on a call
    assert up.call(Script()) == "ok"
    assert metric("circuit_breaker_state", upstream=name) == 0


def test_a_failed_trial_call_opens_the_breaker_again(name, sleeps):
    up = upstream(
        name, sleeps, http_retry_attempts=1, breaker_fail_max=1, breaker_reset_timeout_seconds=0.05
    )
    with pytest.raises(TransportError):
        up.call(Script(down()))
    time.sleep(0.06)
    with pytest.raises(TransportError):
        up.call(Script(down()))
    assert up.breaker.current_state == pybreaker.STATE_OPEN
    assert metric("circuit_breaker_opens_total", upstream=name) == 2


def test_retries_stop_once_the_breaker_opens(name, sleeps):
    up = upstream(name, sleeps, http_retry_attempts=5, breaker_fail_max=2)
    script = Script(*(down() for _ in range(5)))
    with pytest.raises(TransportError):
        up.call(script)
    assert script.calls == 2 and len(sleeps) == 1


def test_business_answers_never_open_the_breaker(name, sleeps):
    up = upstream(name, sleeps, http_retry_attempts=1, breaker_fail_max=2)
    for error in [UpstreamRejected("083932", "unsupported"), EmptyBook("none")] * 3:
        with pytest.raises(type(error)):
            up.call(Script(error))
    assert up.breaker.current_state == pybreaker.STATE_CLOSED
    assert up.breaker.fail_counter == 0
    assert metric("circuit_breaker_failures_total", upstream=name) == 0


def test_malformed_replies_do_open_the_breaker(name, sleeps):
    up = upstream(name, sleeps, http_retry_attempts=1, breaker_fail_max=2)
    for _ in range(2):
        with pytest.raises(BadReply):
            up.call(Script(BadReply("<html>", reason="html")))
    assert up.breaker.current_state == pybreaker.STATE_OPEN


def test_breaker_falls_back_to_memory_when_redis_is_down(name):
    breaker = resilience.make_breaker(name, settings(), resilience.redis_client(DEAD_REDIS))
    assert isinstance(breaker._state_storage, pybreaker.CircuitMemoryStorage)
    assert breaker.call(lambda: 1) == 1


# --- token bucket ------------------------------------------------------------------------------


def test_token_bucket_admits_a_burst_then_refuses_without_waiting():
    limit = resilience.RateLimit("t", per_second=1, burst=2, max_wait=0)
    limit.acquire()
    limit.acquire()
    with pytest.raises(RateLimited):
        limit.acquire()


def test_a_refused_token_is_neither_sent_nor_a_breaker_failure(name, sleeps):
    up = upstream(name, sleeps)
    up.limiter = resilience.RateLimit(name, per_second=1, burst=1, max_wait=0)
    assert up.call(Script()) == "ok"
    script = Script()
    with pytest.raises(RateLimited):
        up.call(script)
    assert script.calls == 0 and up.breaker.fail_counter == 0


def test_token_bucket_uses_process_memory_while_redis_is_down():
    clock = [100.0]
    limit = resilience.RateLimit(
        "t",
        per_second=1000,
        burst=10,
        max_wait=0,
        client=resilience.redis_client(DEAD_REDIS),
        clock=lambda: clock[0],
    )
    errors = metric("redis_operations_total", operation="rate_limit", outcome="error")

    limit.acquire()  # Redis refused: served by the in-process bucket
    limit.acquire()  # Redis not even tried for a while
    assert metric("redis_operations_total", operation="rate_limit", outcome="error") - errors == 1

    clock[0] += resilience.REDIS_RETRY_SECONDS + 1
    limit.acquire()  # tried again, still down, still served
    assert metric("redis_operations_total", operation="rate_limit", outcome="error") - errors == 2


# --- wiring ------------------------------------------------------------------------------------


def test_session_is_pooled_and_leaves_retries_to_tenacity():
    adapter = resilience.make_session(pool_size=7).get_adapter("https://p2p.binance.com")
    assert adapter.max_retries.total == 0
    assert adapter._pool_maxsize == 7


def test_upstreams_are_shared_per_configuration_and_reset_forgets_them():
    resilience.reset()
    a = resilience.upstream("binance_p2p", "http://x", settings(), 2.0)
    assert resilience.upstream("binance_p2p", "http://x", settings(), 2.0) is a
    assert (
        resilience.upstream("binance_p2p", "http://x", settings(breaker_fail_max=9), 2.0) is not a
    )
    resilience.reset()
    assert resilience.upstream("binance_p2p", "http://x", settings(), 2.0) is not a
    resilience.reset()


def test_an_outage_survives_pickling_so_celery_reports_it_by_name():
    """Celery pickles a task's exception (prefork pool, a failure's report); one it cannot
    rebuild is replaced by an UnpickleableExceptionWrapper in the worker's log."""
    import pickle

    from celery.utils.serialization import get_pickleable_exception

    outage = resilience.Unavailable("db", "database breaker open after repeated failures")
    copy = pickle.loads(pickle.dumps(outage))
    assert (copy.component, copy.detail, str(copy)) == ("db", outage.detail, str(outage))
    assert get_pickleable_exception(outage) is outage
