"""Changes pushed to open pages: ingest, the scan and the executor announce what changed
on a Redis channel; every open page listens through one server-sent-events stream and
refreshes what it shows. Without Redis nothing is announced and pages poll.

A stream holds a web thread, so each lives ``PUSH_STREAM_SECONDS`` (the browser reconnects
by itself) and a process serves at most ``PUSH_MAX_STREAMS`` at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import redis

from backend.cache import Cache, RedisCache

CHANNEL = "events"
KINDS = ("prices", "opportunities", "trades")
COALESCE_SECONDS = 0.05  # announcements this close together reach a page as one event
KEEPALIVE_SECONDS = 1.0  # a write per second: a page that left frees its thread soon


def announce(cache: Cache, kind: str, **detail) -> None:
    cache.publish(CHANNEL, json.dumps({"kind": kind, **detail}))


class Streams:
    """A per-process count of open streams, so they never take every web thread, and the
    process's stop: a worker told to stop ends its streams at once instead of holding its
    graceful shutdown for a stream's whole lifetime."""

    def __init__(self, limit: int):
        self.limit, self.open = limit, 0
        self.closing = threading.Event()
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.open >= self.limit or self.closing.is_set():
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1


def available(cache: Cache) -> bool:
    return isinstance(cache, RedisCache)


def events(
    cache: RedisCache, kinds: set[str], lifetime: float, closing: threading.Event | None = None
) -> Iterator[str]:
    """The SSE body: one ``data:`` line per burst of announcements of ``kinds`` (the kinds
    that changed, as JSON), comments to keep the connection alive, then the end (after
    ``lifetime`` seconds, or within a second of ``closing`` being set)."""
    closing = closing or threading.Event()
    pubsub = cache.client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(cache.prefix + CHANNEL)
        yield "retry: 250\n: listening\n\n"  # reconnect quickly; headers go out now
        end, quiet_since = time.monotonic() + lifetime, time.monotonic()
        while time.monotonic() < end and not closing.is_set():
            message = pubsub.get_message(timeout=min(1.0, max(0.0, end - time.monotonic())))
            if message is None:
                if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield ": keepalive\n\n"
                continue
            burst = _kinds(message) & kinds
            stop = time.monotonic() + COALESCE_SECONDS
            while (more := pubsub.get_message(timeout=max(0.0, stop - time.monotonic()))) or (
                time.monotonic() < stop
            ):
                if more:
                    burst |= _kinds(more) & kinds
            if burst:
                quiet_since = time.monotonic()
                yield f"data: {json.dumps(sorted(burst))}\n\n"
    except redis.RedisError:
        yield ": redis is unavailable; the page polls until it reconnects\n\n"
    finally:
        pubsub.close()


def _kinds(message: dict) -> set[str]:
    try:
        return {json.loads(message["data"])["kind"]}
    except (ValueError, KeyError, TypeError):
        return set()
