"""Every outbound HTTP call goes through an ``Upstream``: bounded, counted, and polite.

One attempt is: take a token from the upstream's token bucket (pyrate-limiter; shared by
every worker through Redis when ``REDIS_URL`` is set, in-process without Redis or while
it is down) -> pass the upstream's circuit breaker (pybreaker; its state in Redis too,
so one worker's bad luck spares the others) -> one request on a pooled ``requests``
session with connect/read timeouts, the whole reply read within the two added up (the
read timeout alone bounds each read, so a reply trickled just inside it never ended) ->
the caller's parse. Tenacity repeats attempts a bounded number of times, with
exponential backoff and jitter, on errors marked ``retryable`` (429, 5xx, timeouts,
connection errors), waiting exactly the ``Retry-After`` the upstream asked for when it
asked, and giving up at once when that is longer than we are willing to wait or the
breaker has just opened.

The parse runs inside the breaker, so a reply that arrives but is HTML or malformed JSON
counts as a failure just like a 503; which errors count is decided by the error types
(``backend.market.errors``), not here.

Upstreams are kept per process and configuration, so every source built with the same
settings (the desk's long-lived ones, a CLI snapshot) shares one breaker, bucket and
session; a forked child starts afresh rather than sharing its parent's sockets.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import TypeVar

import pybreaker
import redis
import requests
import tenacity
import urllib3
from pyrate_limiter import (
    InMemoryStateStore,
    Limiter,
    Rate,
    RedisStateStore,
    SingleBucketFactory,
    StateBucket,
    TokenBucket,
)
from requests.adapters import HTTPAdapter

from backend.config import Settings
from backend.market.errors import (
    BadReply,
    EmptyBook,
    MarketDataError,
    RateLimited,
    TransportError,
    UpstreamHTTPError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from backend.ops import metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
STATE_VALUE = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}
USER_AGENT = "p2p-exchange-desk/0.1"
REDIS_TIMEOUT = 0.5  # a slow Redis must not cost more than the call it guards
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, use the local bucket this long
READ_CHUNK = 64 * 1024
_READ_ERRORS = (  # urllib3's, while a body is read -> the one requests raises for it
    (urllib3.exceptions.ReadTimeoutError, requests.ReadTimeout),
    (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError),
    (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError),
    (urllib3.exceptions.HTTPError, requests.ConnectionError),
)


def make_session(pool_size: int = 10) -> requests.Session:
    """Pooled keep-alive session; urllib3's own retries off, because tenacity owns them."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


def json_of(response: requests.Response, upstream: str) -> object:
    """The body as JSON (floats as Decimal), or BadReply naming what came instead."""
    text = response.text
    status = response.status_code
    snippet = " ".join(text[:160].split())
    if "html" in response.headers.get("Content-Type", "").lower() or text.lstrip()[:1] == "<":
        raise BadReply(
            f"{upstream} sent an HTML page (HTTP {status}), not JSON: {snippet!r}", reason="html"
        )
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except ValueError:
        raise BadReply(
            f"{upstream} sent malformed JSON (HTTP {status}): {snippet!r}", reason="bad_json"
        ) from None


def read_within(response: requests.Response, deadline: float, seconds: float) -> None:
    """Read a streamed reply's body, giving up at ``deadline`` (``time.perf_counter()``).

    requests' read timeout bounds each read from the socket, not the reply: a server
    sending a piece just inside it holds the call for as long as it likes, and what it
    finally gives is as old as its first byte. ``read1`` reads the socket once, so each
    piece is still bounded by the read timeout, and the deadline is checked between them.
    """
    body = bytearray()
    try:
        while chunk := response.raw.read1(READ_CHUNK, decode_content=True):
            body += chunk
            if time.perf_counter() > deadline:
                raise requests.ReadTimeout(f"the reply did not end within {seconds:g} s")
    except urllib3.exceptions.HTTPError as exc:  # named as requests names them
        response.close()
        raise next(ours for theirs, ours in _READ_ERRORS if isinstance(exc, theirs))(exc) from exc
    except BaseException:
        response.close()  # half read: the connection is not reused
        raise
    response._content = bytes(body)
    response._content_consumed = True


class WholeReplyAdapter(HTTPAdapter):
    """Replies read whole within the connect and read timeouts added up (``read_within``),
    for a session another library drives and reads itself (Binance's SDK): there the read
    timeout alone bounded each read, so a trickled reply held a worker as long as it went on."""

    def send(self, request, stream=False, timeout=None, **kwargs):
        started = time.perf_counter()
        response = super().send(request, stream=True, timeout=timeout, **kwargs)
        if not stream and timeout is not None:
            seconds = sum(timeout) if isinstance(timeout, tuple) else 2 * timeout
            read_within(response, started + seconds, seconds)
        return response


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class wait_retry_after(tenacity.wait.wait_base):  # named like tenacity's own waits
    """Wait what the upstream asked for (``Retry-After``), else the fallback backoff."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        asked = getattr(outcome.exception(), "retry_after", None) if outcome else None
        return asked if asked is not None else self.fallback(retry_state)


class BreakerMetrics(pybreaker.CircuitBreakerListener):
    """Drives the breaker gauges and counters, and logs every transition.

    With the Redis storage each process notices (and counts) a transition the first time it
    calls after it, so ``circuit_breaker_opens_total`` summed over processes may exceed the
    number of real trips; alert on ``increase(...) > 0``, not on the exact count.

    pybreaker leaves "open" only on the first call after the reset timeout, so a process
    that stopped calling would show open for good (and keep ``CircuitBreakerOpen`` firing
    over every process that recovered): once the timeout has passed, the gauge says
    half-open (1), which is what the breaker is then: the next call tries.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._opened = 0  # opens seen: a timer set by an earlier one does nothing

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        metrics.CIRCUIT_BREAKER_FAILURES.labels(upstream=self.upstream).inc()

    def state_change(self, cb, old_state, new_state) -> None:
        metrics.CIRCUIT_BREAKER_STATE.labels(upstream=self.upstream).set(
            STATE_VALUE.get(new_state.name, 0)
        )
        old = old_state.name if old_state is not None else None
        if new_state.name == pybreaker.STATE_OPEN:
            self._opened += 1
            timer = threading.Timer(cb.reset_timeout, self._may_try, (cb, self._opened))
            timer.daemon = True
            timer.start()
        if new_state.name == pybreaker.STATE_OPEN and old != pybreaker.STATE_OPEN:
            metrics.CIRCUIT_BREAKER_OPENS.labels(upstream=self.upstream).inc()
            log.warning("circuit breaker %s opened (was %s)", self.upstream, old)
        else:
            log.info("circuit breaker %s: %s -> %s", self.upstream, old, new_state.name)

    def _may_try(self, cb: pybreaker.CircuitBreaker, opened: int) -> None:
        try:
            still_open = opened == self._opened and cb.current_state == pybreaker.STATE_OPEN
        except Exception:  # the shared state unreadable (Redis): leave the gauge as it is
            return
        if still_open:
            metrics.CIRCUIT_BREAKER_STATE.labels(upstream=self.upstream).set(
                STATE_VALUE[pybreaker.STATE_HALF_OPEN]
            )


def _business_answer(exc: BaseException) -> bool:
    """Excluded from the breaker: the upstream answered, just not with what we wanted."""
    return isinstance(exc, MarketDataError) and not exc.breaker_failure


class Unavailable(Exception):
    """A dependency the desk needs (``component``: db, redis, rabbitmq) is away right now."""

    def __init__(self, component: str, detail: str) -> None:
        super().__init__(f"{component}: {detail}")
        self.component, self.detail = component, detail

    def __reduce__(self):
        """Rebuilt from its own two arguments, so a task failing on an outage (retries
        spent, a prefork pool) is logged as Unavailable naming the component, not as
        Celery's UnpickleableExceptionWrapper."""
        return type(self), (self.component, self.detail)


def make_breaker(
    name: str,
    settings: Settings,
    client: redis.Redis | None = None,
    *,
    fail_max: int | None = None,
    reset_timeout: float | None = None,
) -> pybreaker.CircuitBreaker:
    """Breaker per upstream; state in Redis when given (memory if Redis is down right now).

    ``fail_max`` and ``reset_timeout`` default to the BREAKER_* settings; the database and
    Redis breakers pass their own."""
    storage = None
    if client is not None:
        try:
            storage = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED, client, namespace=f"{settings.redis_prefix}breaker:{name}"
            )
        except redis.RedisError as exc:
            log.warning("breaker %s keeps its state in process memory: redis failed: %s", name, exc)
    breaker = pybreaker.CircuitBreaker(
        fail_max=fail_max or settings.breaker_fail_max,
        reset_timeout=reset_timeout or settings.breaker_reset_timeout_seconds,
        exclude=[_business_answer],
        listeners=[BreakerMetrics(name)],
        state_storage=storage,
        name=name,
        throw_new_error_on_trip=False,  # the tripping call reports its own error
    )
    metrics.CIRCUIT_BREAKER_STATE.labels(upstream=name).set(
        STATE_VALUE.get(breaker.current_state, 0)
    )
    return breaker


def _limiter(rate: Rate, store) -> Limiter:
    bucket = StateBucket([rate], TokenBucket(), store)
    return Limiter(SingleBucketFactory(bucket, schedule_leak=False))  # no leak thread needed


class RateLimit:
    """Token bucket per upstream: ``per_second`` sustained, ``burst`` at once.

    Redis-backed (one bucket for every worker) when a client is given; a Redis error
    switches this process to an in-process bucket with the same rate for a few seconds,
    so a Redis outage makes the desk a little less polite instead of stopping it.
    """

    def __init__(
        self,
        name: str,
        per_second: float,
        burst: int,
        max_wait: float,
        client: redis.Redis | None = None,
        clock: Callable[[], float] = time.monotonic,
        prefix: str = "desk:",
    ) -> None:
        self.name = name
        self.max_wait = max_wait
        self.clock = clock
        self.redis_down_until = 0.0
        rate = Rate(1, max(1, round(1000 / per_second)), burst)
        self.local = _limiter(rate, InMemoryStateStore())
        self.shared = (
            _limiter(rate, RedisStateStore(client, f"{prefix}ratelimit:{name}"))
            if client is not None
            else None
        )

    def acquire(self) -> None:
        """Block until a token is free (at most ``max_wait``), else raise RateLimited."""
        ok = None
        if self.shared is not None and self.clock() >= self.redis_down_until:
            try:
                ok = bool(self.shared.try_acquire(self.name, timeout=self.max_wait))
                metrics.REDIS_OPERATIONS.labels(operation="rate_limit", outcome="ok").inc()
            except redis.RedisError as exc:
                metrics.REDIS_OPERATIONS.labels(operation="rate_limit", outcome="error").inc()
                log.warning(
                    "rate limit %s: redis failed, in-process bucket for %.0fs: %s",
                    self.name,
                    REDIS_RETRY_SECONDS,
                    exc,
                )
                self.redis_down_until = self.clock() + REDIS_RETRY_SECONDS
        if ok is None:
            ok = bool(self.local.try_acquire(self.name, timeout=self.max_wait))
        if not ok:
            raise RateLimited(f"{self.name}: no rate-limit token within {self.max_wait}s")


class Upstream:
    """One external API: base URL, session, timeouts, token bucket, breaker and retries."""

    def __init__(
        self,
        name: str,
        base_url: str,
        settings: Settings,
        *,
        limiter: RateLimit,
        breaker: pybreaker.CircuitBreaker,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.session = session or make_session()
        self.timeout = (settings.http_connect_timeout, settings.http_read_timeout)
        self.reply_seconds = settings.http_connect_timeout + settings.http_read_timeout
        self.attempts = settings.http_retry_attempts
        self.backoff = settings.http_retry_backoff_seconds
        self.max_wait = settings.http_retry_max_wait_seconds
        self.limiter = limiter
        self.breaker = breaker
        self.sleep = sleep

    def send(self, method: str, path: str, **kwargs) -> requests.Response:
        """One request with timeouts; transport failures, 429 and 5xx become typed errors.

        Other statuses come back to the caller, who knows the upstream's error bodies.
        """
        start = time.perf_counter()
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, stream=True, **kwargs
            )
            read_within(response, start + self.reply_seconds, self.reply_seconds)
        except requests.Timeout as exc:
            raise TransportError(f"{self.name} timed out: {exc}", reason="timeout") from exc
        except requests.RequestException as exc:
            raise TransportError(
                f"{self.name} unreachable: {type(exc).__name__}: {exc}", reason="connection"
            ) from exc
        finally:
            metrics.EXTERNAL_REQUEST_DURATION.labels(upstream=self.name).observe(
                time.perf_counter() - start
            )
        status = response.status_code
        if status in (418, 429) or status >= 500:
            raise UpstreamHTTPError(
                status,
                f"{self.name} answered HTTP {status}",
                retry_after_seconds(response.headers.get("Retry-After")),
            )
        return response

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (one request and its parse) under the limiter, breaker and retries."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=wait_retry_after(
                tenacity.wait_exponential_jitter(
                    multiplier=self.backoff, max=self.max_wait, jitter=self.backoff
                )
            ),
            retry=tenacity.retry_if_exception(self._should_retry),
            before_sleep=self._before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._attempt, fn)

    def _attempt(self, fn: Callable[[], T]) -> T:
        try:
            self.limiter.acquire()
            return self.breaker.call(fn)
        except pybreaker.CircuitBreakerError as exc:
            metrics.EXTERNAL_ERRORS.labels(upstream=self.name, reason="breaker_open").inc()
            raise UpstreamUnavailable(
                f"{self.name} circuit breaker is open; not calling it"
            ) from exc
        except MarketDataError as exc:
            metrics.EXTERNAL_ERRORS.labels(upstream=self.name, reason=exc.reason).inc()
            if isinstance(exc, BadReply | UpstreamRejected | EmptyBook):  # it answered, badly
                metrics.BAD_REPLIES.labels(
                    upstream=self.name, scope="reply", reason=exc.reason
                ).inc()
            raise
        except Exception:
            metrics.EXTERNAL_ERRORS.labels(upstream=self.name, reason="unexpected").inc()
            raise

    def _should_retry(self, exc: BaseException) -> bool:
        if not (isinstance(exc, MarketDataError) and exc.retryable):
            return False
        if exc.retry_after is not None and exc.retry_after > self.max_wait:
            log.warning(
                "%s asked us to wait %.1fs, longer than %.1fs: giving up",
                self.name,
                exc.retry_after,
                self.max_wait,
            )
            return False
        return self.breaker.current_state != pybreaker.STATE_OPEN

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        reason = getattr(exc, "reason", "unknown")
        metrics.EXTERNAL_RETRIES.labels(upstream=self.name, reason=reason).inc()
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "%s attempt %d failed (%s); retrying in %.2fs",
            self.name,
            retry_state.attempt_number,
            exc,
            wait,
        )


def redis_client(url: str) -> redis.Redis:
    """Short timeouts: the limiter and breaker must not hang on a sick Redis."""
    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )


def build_upstream(
    name: str,
    base_url: str,
    settings: Settings,
    per_second: float,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Upstream:
    """A fresh upstream (tests use this to get their own breaker and an injected sleep)."""
    client = redis_client(settings.redis_url) if settings.redis_url else None
    limiter = RateLimit(
        name,
        per_second,
        settings.http_rate_burst,
        settings.http_rate_max_wait_seconds,
        client,
        prefix=settings.redis_prefix,
    )
    return Upstream(
        name,
        base_url,
        settings,
        limiter=limiter,
        breaker=make_breaker(name, settings, client),
        session=session,
        sleep=sleep,
    )


_UPSTREAMS: dict[tuple, Upstream] = {}
_LOCK = threading.Lock()


def upstream(name: str, base_url: str, settings: Settings, per_second: float) -> Upstream:
    """The process-wide upstream for this name and configuration, built on first use."""
    key = (
        name,
        base_url,
        per_second,
        settings.redis_url,
        settings.redis_prefix,
        settings.http_connect_timeout,
        settings.http_read_timeout,
        settings.http_retry_attempts,
        settings.http_retry_backoff_seconds,
        settings.http_retry_max_wait_seconds,
        settings.breaker_fail_max,
        settings.breaker_reset_timeout_seconds,
        settings.http_rate_burst,
        settings.http_rate_max_wait_seconds,
    )
    with _LOCK:
        found = _UPSTREAMS.get(key)
        if found is None:
            found = _UPSTREAMS[key] = build_upstream(name, base_url, settings, per_second)
        return found


def reset() -> None:
    """Forget every upstream: breakers, buckets and sessions start afresh (tests, forks)."""
    global _LOCK
    _LOCK = threading.Lock()
    _UPSTREAMS.clear()


os.register_at_fork(after_in_child=reset)
