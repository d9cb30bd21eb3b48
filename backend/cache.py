"""Redis when it is configured and answering; an in-process store when it is not.

Only Redis is ``shared``: a value one process wrote in its own memory is invisible (and
soon wrong) for the others, so shared data such as the latest books skips a non-shared
cache and reads the database. Locks and debounces fall back to process memory. A Redis
outage degrades the desk but never hangs it: every command has a short timeout, and a
circuit breaker (pybreaker, in process memory) opens after the first failures, so a hung
Redis costs one timeout and then every read is an immediate miss until a trial call after
``REDIS_BREAKER_RESET_TIMEOUT_SECONDS`` finds it back. Every key carries ``REDIS_PREFIX``,
so two desks can share one server.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import pybreaker
import redis

from backend.config import Settings
from backend.ops import metrics
from backend.resilience import STATE_VALUE, BreakerMetrics

log = logging.getLogger(__name__)


class Cache(Protocol):
    shared: bool

    def get(self, key: str) -> bytes | None: ...
    def get_many(self, keys: list[str]) -> list[bytes | None]: ...
    def set(self, key: str, value: bytes | str, ttl: float) -> None: ...
    def add(self, key: str, value: bytes | str, ttl: float) -> bool: ...
    def publish(self, channel: str, message: str) -> None: ...
    def ping(self) -> bool: ...


class LocalCache:
    """Thread-safe TTL dict: the embedded default, and Redis' stand-in for locks."""

    shared = False

    def __init__(self, clock=time.monotonic):
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] < self._clock():
                self._data.pop(key, None)
                return None
            return item[1]

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [self.get(key) for key in keys]

    def set(self, key: str, value: bytes | str, ttl: float) -> None:
        data = value.encode() if isinstance(value, str) else value
        with self._lock:
            self._data[key] = (self._clock() + ttl, data)

    def add(self, key: str, value: bytes | str, ttl: float) -> bool:
        if self.get(key) is not None:
            return False
        self.set(key, value, ttl)
        return True

    def publish(self, channel: str, message: str) -> None:
        """Nobody else can listen to one process's memory: pages poll instead."""

    def ping(self) -> bool:
        return True


class RedisCache:
    """Redis; on failure a read is a miss, a write is dropped, a lock is taken locally."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "desk:",
        timeout: float = 0.5,
        fail_max: int = 1,
        reset_timeout: float = 5.0,
    ):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self.prefix = prefix
        self.fallback = LocalCache()
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            exclude=[redis.ResponseError],  # Redis answered: not an outage
            listeners=[BreakerMetrics("redis")],
            name="redis",
            throw_new_error_on_trip=False,
        )
        metrics.CIRCUIT_BREAKER_STATE.labels(upstream="redis").set(
            STATE_VALUE[pybreaker.STATE_CLOSED]
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisCache:
        return cls(
            settings.redis_url,
            prefix=settings.redis_prefix,
            timeout=settings.redis_timeout_seconds,
            fail_max=settings.redis_breaker_fail_max,
            reset_timeout=settings.redis_breaker_reset_timeout_seconds,
        )

    def _call(self, operation: str, fn, default):
        start = time.perf_counter()
        try:
            result = self.breaker.call(fn)
        except pybreaker.CircuitBreakerError:
            metrics.REDIS_OPERATIONS.labels(operation=operation, outcome="breaker_open").inc()
            return default()
        except redis.RedisError as exc:
            metrics.REDIS_OPERATIONS.labels(operation=operation, outcome="error").inc()
            log.warning("redis %s failed, using the fallback: %s", operation, exc)
            return default()
        metrics.REDIS_OPERATIONS.labels(operation=operation, outcome="ok").inc()
        metrics.REDIS_DURATION.labels(operation=operation).observe(time.perf_counter() - start)
        return result

    def get(self, key: str) -> bytes | None:
        return self._call("get", lambda: self.client.get(self.prefix + key), lambda: None)

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        """One round trip (MGET) for all keys: a sick Redis costs one timeout, not one each."""
        if not keys:
            return []
        return self._call(
            "mget",
            lambda: self.client.mget([self.prefix + key for key in keys]),
            lambda: [None] * len(keys),
        )

    def set(self, key: str, value: bytes | str, ttl: float) -> None:
        self._call(
            "set",
            lambda: self.client.set(self.prefix + key, value, px=int(ttl * 1000)),
            lambda: None,
        )

    def add(self, key: str, value: bytes | str, ttl: float) -> bool:
        return bool(
            self._call(
                "set",
                lambda: self.client.set(self.prefix + key, value, px=int(ttl * 1000), nx=True),
                lambda: self.fallback.add(key, value, ttl),
            )
        )

    def publish(self, channel: str, message: str) -> None:
        """Fire and forget: a lost announcement only delays a page to its next poll."""
        self._call(
            "publish", lambda: self.client.publish(self.prefix + channel, message), lambda: None
        )

    def ping(self) -> bool:
        """Straight to Redis, past the breaker: health must see Redis as it is now."""
        return bool(self.client.ping())


def make_cache(settings: Settings) -> Cache:
    return RedisCache.from_settings(settings) if settings.redis_url else LocalCache()
