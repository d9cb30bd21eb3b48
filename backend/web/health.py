"""Health URLs answered from a monitor thread's last results, never from a request thread.

Each web process runs one monitor thread, started on the first health read (after any
fork): every HEALTH_REFRESH_SECONDS it runs all probes in parallel, each bounded by
PROBE_TIMEOUT. A probe still stuck from an earlier round is not started again; it is
reported down until it returns. The routes only read the results, so a storm of checks
costs the dependencies nothing and a hung dependency costs a health request nothing:
``/api/v1/health*`` answers at once, 503 naming what is down.

Statuses: ``ok``, ``down`` (with ``error``), and ``not configured`` for a component the
desk runs without (Redis and RabbitMQ on the embedded default). Not configured is not
required and not up: ``health_component_up`` has no series for it, and
``health_component_configured`` is 0.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from flask import Blueprint, Flask, abort, current_app, jsonify
from kombu import Connection
from sqlalchemy import select, text

from backend.desk import Desk
from backend.models import Setting
from backend.ops import metrics, queues
from backend.web.access import PUBLIC, access

bp = Blueprint("health", __name__)

PROBE_TIMEOUT = 2.0
HEARTBEAT_MAX_AGE = 20.0  # beat sends one every 5 s
HEARTBEAT_KEY = "worker_heartbeat"  # tasks.heartbeat stamps it in Redis and the database
NOT_CONFIGURED = "not configured"


class Down(Exception):
    pass


def probe_db(desk: Desk) -> str:
    with desk.sessions() as session:
        session.execute(text("SELECT 1"))
    return "ok"


def probe_redis(desk: Desk) -> str:
    desk.cache.ping()
    return "ok"


def probe_rabbitmq(desk: Desk) -> dict:
    """Connect to the broker; the queue depths are read on the same visit and reported."""
    with Connection(desk.settings.rabbitmq_url, connect_timeout=PROBE_TIMEOUT) as conn:
        # One attempt, no backoff sleep: kombu's default 2 s pause before the retry
        # outlasted PROBE_TIMEOUT, so a refused broker read "no answer within 2 s".
        conn.ensure_connection(max_retries=1, interval_start=0)
        return {"queues": queues.record_depths(desk.settings, conn)}


def probe_celery(desk: Desk) -> str:
    """A worker is alive if beat's heartbeat task ran recently (broker, beat and worker).
    Its stamp in Redis is read first: a database outage does not make live workers read
    as dead. Without Redis, or with no recent stamp there, the database's decides."""
    stamps = []
    if desk.cache.shared and (cached := desk.cache.get(HEARTBEAT_KEY)):
        stamps.append(datetime.fromisoformat(cached.decode()))
    if not stamps or _age(desk, max(stamps)) > HEARTBEAT_MAX_AGE:
        try:
            with desk.sessions() as session:
                value = session.scalar(select(Setting.value).where(Setting.key == HEARTBEAT_KEY))
        except Exception:
            if not stamps:
                raise  # the database is down and Redis knows nothing: cannot tell
            value = None
        if value is not None:
            stamps.append(datetime.fromisoformat(value))
    if not stamps:
        raise Down("no worker heartbeat yet")
    age = _age(desk, max(stamps))
    if age > HEARTBEAT_MAX_AGE:
        raise Down(f"last worker heartbeat {age:.0f} s ago")
    return "ok"


def _age(desk: Desk, stamp: datetime) -> float:
    return (desk.now() - stamp).total_seconds()


PROBES = {"db": probe_db, "redis": probe_redis, "rabbitmq": probe_rabbitmq, "celery": probe_celery}


def configured(desk: Desk, name: str) -> bool:
    return {"redis": desk.settings.redis_url, "rabbitmq": desk.settings.rabbitmq_url}.get(
        name, True
    ) not in (None, "")


class Monitor:
    """Runs the probes in the background; ``results()`` is what the routes serve."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.refresh = desk.settings.health_refresh_seconds
        self.round = 0  # bumped after every round: the response cache keys on it
        self._pid: int | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start this process's monitor thread (again after a fork); idempotent."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._last: tuple[datetime, dict[str, dict]] | None = None
            self._ready = threading.Event()
            self._running: dict[str, tuple[float, Future]] = {}
            self._pool = ThreadPoolExecutor(len(PROBES), thread_name_prefix="health-probe")
            for name in PROBES:
                metrics.HEALTH_CONFIGURED.labels(component=name).set(configured(self.desk, name))
            self._pid = os.getpid()
            threading.Thread(
                target=_monitor_loop, args=(weakref.ref(self),), name="health-monitor", daemon=True
            ).start()

    def _run_round(self) -> float:
        """One round; returns how long to sleep before the next."""
        started = time.monotonic()
        results = self._round()
        self._last = (self.desk.now(), results)
        self.round += 1
        self._ready.set()
        return max(0.0, self.refresh - (time.monotonic() - started))

    def _round(self) -> dict[str, dict]:
        for name, probe in PROBES.items():
            if configured(self.desk, name) and name not in self._running:
                self._running[name] = (time.monotonic(), self._pool.submit(probe, self.desk))
        results = {}
        for name in PROBES:
            if not configured(self.desk, name):
                results[name] = {"status": NOT_CONFIGURED, "required": False, "latency_ms": 0.0}
                continue
            start, future = self._running[name]
            try:
                found = future.result(timeout=max(0.0, start + PROBE_TIMEOUT - time.monotonic()))
                entry = {"status": "ok"} | (found if isinstance(found, dict) else {})
            except TimeoutError:
                entry = {"status": "down", "error": f"no answer within {PROBE_TIMEOUT:.0f} s"}
            except Exception as exc:  # any failure of a probe is the component being down
                entry = {"status": "down", "error": " ".join(str(exc).split())[:300]}
                entry["error"] = entry["error"] or type(exc).__name__
            if future.done():
                del self._running[name]
            entry["latency_ms"] = round((time.monotonic() - start) * 1000, 1)
            entry["required"] = True
            metrics.HEALTH_STATUS.labels(component=name).set(entry["status"] == "ok")
            results[name] = entry
        return results

    def results(self) -> tuple[datetime, dict[str, dict]]:
        """When the last round ended, and its results (waits for this process's first)."""
        self.start()
        self._ready.wait(PROBE_TIMEOUT + 1)
        if self._last is None:
            return self.desk.now(), {
                n: {"status": "down", "error": "no probe finished yet"} for n in PROBES
            }
        return self._last


def _monitor_loop(ref: weakref.ref[Monitor]) -> None:
    """Rounds until the monitor's app is gone, the process forked, or Python exits."""
    pid = os.getpid()
    while (monitor := ref()) is not None and monitor._pid == pid:
        try:
            pause = monitor._run_round()
        except RuntimeError:  # the interpreter is shutting down: no new threads
            return
        del monitor
        time.sleep(pause)


def check(names: list[str]) -> dict:
    """This app's monitor's verdict on ``names``."""
    checked_at, results = current_app.extensions["health"].results()
    components = {name: results[name] for name in names}
    down = any(c["status"] == "down" and c.get("required", True) for c in components.values())
    return {
        "status": "down" if down else "ok",
        "checked_at": checked_at.isoformat(),
        "components": components,
    }


def report(names: list[str]):
    body = check(names)
    return jsonify(body), 503 if body["status"] == "down" else 200


@bp.get("/api/v1/health")
@bp.get("/health")
@access(PUBLIC)
def health_all():
    return report(list(PROBES))


@bp.get("/api/v1/health/<component>")
@bp.get("/health/<component>")
@access(PUBLIC)
def health_one(component: str):
    if component not in PROBES:
        abort(404, description=f"no such component: {component[:50]}; one of: {', '.join(PROBES)}")
    return report([component])


class AnswerCache:
    """WSGI layer in front of the app: a health URL's answer is made by the view once per
    monitor round and replayed until the next, so a flood of checks costs a lookup each
    instead of a trip through the request hooks. Answers that set a cookie are not kept,
    nor the request id of the request that made one."""

    PATHS = frozenset(
        [f"{base}{tail}" for base in ("/api/v1/health", "/health") for tail in ("", "/")]
        + [f"{base}/{name}" for base in ("/api/v1/health", "/health") for name in PROBES]
    )

    def __init__(self, wsgi_app, monitor: Monitor) -> None:
        self.wsgi_app, self.monitor = wsgi_app, monitor
        self.answers: dict[tuple[str, str], tuple[int, str, list, bytes]] = {}

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD") or path not in self.PATHS:
            return self.wsgi_app(environ, start_response)
        kept = self.answers.get((method, path))
        if kept is None or kept[0] != self.monitor.round:
            round_, made = self.monitor.round, []
            body = b"".join(
                self.wsgi_app(
                    environ, lambda status, headers, exc_info=None: made.extend((status, headers))
                )
            )
            status, headers = made
            kept = (round_, status, [h for h in headers if h[0].lower() != "x-request-id"], body)
            if not any(name.lower() == "set-cookie" for name, _ in headers):
                self.answers[(method, path)] = kept
        _, status, headers, body = kept
        start_response(status, headers)
        return [body]


def init_app(app: Flask) -> None:
    monitor = app.extensions["health"] = Monitor(app.extensions["desk"])
    app.register_blueprint(bp)
    app.wsgi_app = AnswerCache(app.wsgi_app, monitor)
