"""Redis when it is configured and answering; an in-process store when it is not.

Only Redis is ``shared``: a value one process wrote in its own memory is invisible (and
soon wrong) for the others, so shared data such as the latest books skips a non-shared
cache and reads the database. Locks and debounces fall back to process memory. A Redis
outage degrades the desk but never hangs it: every command has a half-second timeout
and is counted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis

from backend.ops import metrics

log = logging.getLogger(__name__)


class Cache(Protocol):
    shared: bool

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes | str, ttl: float) -> None: ...
    def add(self, key: str, value: bytes | str, ttl: float) -> bool: ...
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

    def set(self, key: str, value: bytes | str, ttl: float) -> None:
        data = value.encode() if isinstance(value, str) else value
        with self._lock:
            self._data[key] = (self._clock() + ttl, data)

    def add(self, key: str, value: bytes | str, ttl: float) -> bool:
        if self.get(key) is not None:
            return False
        self.set(key, value, ttl)
        return True

    def ping(self) -> bool:
        return True


class RedisCache:
    """Redis; on failure a read is a miss, a write is dropped, a lock is taken locally."""

    shared = True

    def __init__(self, url: str, timeout: float = 0.5):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self.fallback = LocalCache()

    def _call(self, operation: str, fn, default):
        start = time.perf_counter()
        try:
            result = fn()
        except redis.RedisError as exc:
            metrics.REDIS_OPERATIONS.labels(operation=operation, outcome="error").inc()
            log.warning("redis %s failed, using in-process fallback: %s", operation, exc)
            return default()
        metrics.REDIS_OPERATIONS.labels(operation=operation, outcome="ok").inc()
        metrics.REDIS_DURATION.labels(operation=operation).observe(time.perf_counter() - start)
        return result

    def get(self, key: str) -> bytes | None:
        return self._call("get", lambda: self.client.get(key), lambda: None)

    def set(self, key: str, value: bytes | str, ttl: float) -> None:
        self._call("set", lambda: self.client.set(key, value, px=int(ttl * 1000)), lambda: None)

    def add(self, key: str, value: bytes | str, ttl: float) -> bool:
        return bool(
            self._call(
                "set",
                lambda: self.client.set(key, value, px=int(ttl * 1000), nx=True),
                lambda: self.fallback.add(key, value, ttl),
            )
        )

    def ping(self) -> bool:
        return bool(self.client.ping())


def make_cache(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else LocalCache()
