"""The login and trade throttles' counters in Redis, behind the desk's Redis breaker.

Flask-Limiter's own Redis storage had its own client: with Redis hung, a login paid a
0.5 s timeout for its counter, then another for the storage's health ping (about 1 s
over the password check, more on a busy worker). This storage shares the cache's
connections (``REDIS_TIMEOUT_SECONDS``) and its breaker (``backend.cache``): a hung Redis
costs at most one timeout per process, and none once the cache has found it down.

While Redis is away the counters live in each process's memory (Flask-Limiter's
fallback): throttling goes on, per web process instead of desk-wide, so an attacker gets
at most ``WEB_CONCURRENCY`` times the budget and no one is locked out. Refusing every
login instead would turn a Redis outage into a desk outage.
"""

from __future__ import annotations

import time
from typing import ClassVar

import pybreaker
import redis
from limits.storage import MemoryStorage, RedisStorage

from backend.cache import RedisCache


class BreakerRedisStorage(RedisStorage):
    STORAGE_SCHEME: ClassVar[list[str]] = ["desk+redis"]  # RATELIMIT_STORAGE_URI

    def __init__(self, uri: str, cache: RedisCache, key_prefix: str, **options) -> None:
        self.breaker = cache.breaker
        super().__init__(
            uri, connection_pool=cache.client.connection_pool, key_prefix=key_prefix, **options
        )

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.breaker.call(super().incr, key, expiry, amount)

    def get(self, key: str) -> int:
        return self.breaker.call(super().get, key)

    def get_expiry(self, key: str) -> float:
        return self.breaker.call(super().get_expiry, key)

    def clear(self, key: str) -> None:
        self.breaker.call(super().clear, key)

    def check(self) -> bool:
        """Whether Redis is back (Flask-Limiter asks now and then): never while the
        breaker is open, so the question costs nothing then."""
        try:
            return bool(self.breaker.call(self.get_connection().ping))
        except (pybreaker.CircuitBreakerError, redis.RedisError):
            return False


class QuietMemoryStorage(MemoryStorage):
    """limits' in-process counters (the embedded default's throttles) without a thread
    per hit. MemoryStorage starts a 10 ms timer thread to sweep expired counters on
    nearly every hit (whenever the previous timer has ended), which costs a trade request
    a thread start and a GIL handover. Expired counters are dropped when read anyway; the
    sweep, which only frees their memory, runs here in the hitting thread at most once
    every ``SWEEP_SECONDS``."""

    STORAGE_SCHEME: ClassVar[list[str]] = ["desk+memory"]  # RATELIMIT_STORAGE_URI
    SWEEP_SECONDS = 10.0

    def __init__(self, uri: str | None = None, **options) -> None:
        super().__init__(uri, **options)
        self.swept = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the timer's start
        now = time.monotonic()
        if now - self.swept >= self.SWEEP_SECONDS:
            self.swept = now
            self._MemoryStorage__expire_events()
