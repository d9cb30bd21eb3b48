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

from typing import ClassVar

import pybreaker
import redis
from limits.storage import RedisStorage

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
