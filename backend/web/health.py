"""Health URLs: real probes, each bounded in time, 503 when a required component is down."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime

from flask import Blueprint, abort, jsonify
from kombu import Connection
from sqlalchemy import select, text

from backend.desk import Desk, current_desk
from backend.models import Setting
from backend.ops import metrics
from backend.web.access import PUBLIC, access

bp = Blueprint("health", __name__)

PROBE_TIMEOUT = 2.0
HEARTBEAT_MAX_AGE = 20.0  # beat sends one every 5 s
NOT_CONFIGURED = "not configured"


class Down(Exception):
    pass


def probe_db(desk: Desk) -> str:
    with desk.sessions() as session:
        session.execute(text("SELECT 1"))
    return "ok"


def probe_redis(desk: Desk) -> str:
    if not desk.settings.redis_url:
        return NOT_CONFIGURED
    desk.cache.ping()
    return "ok"


def probe_rabbitmq(desk: Desk) -> str:
    if not desk.settings.rabbitmq_url:
        return NOT_CONFIGURED
    with Connection(desk.settings.rabbitmq_url, connect_timeout=PROBE_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=1)
    return "ok"


def probe_celery(desk: Desk) -> str:
    """A worker is alive if beat's heartbeat task ran recently (broker, beat and worker)."""
    with desk.sessions() as session:
        value = session.scalar(select(Setting.value).where(Setting.key == "worker_heartbeat"))
    if value is None:
        raise Down("no worker heartbeat yet")
    age = (desk.now() - datetime.fromisoformat(value)).total_seconds()
    if age > HEARTBEAT_MAX_AGE:
        raise Down(f"last worker heartbeat {age:.0f} s ago")
    return "ok"


PROBES = {"db": probe_db, "redis": probe_redis, "rabbitmq": probe_rabbitmq, "celery": probe_celery}


def _run(pool: ThreadPoolExecutor, desk: Desk, names: list[str]) -> dict[str, dict]:
    started = {name: (time.perf_counter(), pool.submit(PROBES[name], desk)) for name in names}
    results = {}
    for name, (start, future) in started.items():
        try:
            status = future.result(timeout=max(0.0, start + PROBE_TIMEOUT - time.perf_counter()))
            entry = {"status": status}
        except FutureTimeout:
            entry = {"status": "down", "error": f"no answer within {PROBE_TIMEOUT:.0f} s"}
        except Exception as exc:  # any failure of a probe is the component being down
            entry = {"status": "down", "error": str(exc)[:300] or type(exc).__name__}
        entry["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        entry["required"] = entry["status"] != NOT_CONFIGURED
        metrics.HEALTH_STATUS.labels(component=name).set(entry["status"] != "down")
        results[name] = entry
    return results


def check(desk: Desk, names: list[str]) -> dict:
    """Run the probes in parallel; the whole check is bounded by PROBE_TIMEOUT."""
    pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="health")
    try:
        components = _run(pool, desk, names)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    down = any(c["status"] == "down" and c["required"] for c in components.values())
    return {
        "status": "down" if down else "ok",
        "checked_at": desk.now().isoformat(),
        "components": components,
    }


def report(names: list[str]):
    body = check(current_desk(), names)
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
        abort(404, description=f"unknown component; one of: {', '.join(PROBES)}")
    return report([component])
