"""Proof of life for /health/celery: beat -> broker -> worker -> database, every 5 s.

Each run also stamps the worker that ran it (``worker_heartbeat:celery@host``), so the
System page can tell which workers are alive; beat's messages reach every worker in turn.
The stamp goes to Redis first (when the desk has one): while the database is down the
workers still read as alive, and health names the database alone.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from sqlalchemy.orm import Session

from backend.desk import current_desk
from backend.models import Setting
from backend.web.health import HEARTBEAT_KEY as KEY
from tasks.celery_app import DB_RETRY

WORKER = KEY + ":"  # + the worker's host name
KEPT_SECONDS = 120.0  # how long Redis keeps a stamp: well past the age health accepts


def record(session: Session, now: datetime, worker: str | None = None) -> None:
    session.merge(Setting(key=KEY, value=now.isoformat(), updated_at=now))
    if worker:
        name = WORKER + worker[: 64 - len(WORKER)]
        session.merge(Setting(key=name, value=now.isoformat(), updated_at=now))


@shared_task(name="tasks.heartbeat.beat", bind=True, **DB_RETRY)
def beat(self) -> None:
    desk = current_desk()
    now = desk.now()
    desk.cache.set(KEY, now.isoformat(), KEPT_SECONDS)  # never raises: a lost stamp is a miss
    with desk.sessions.begin() as session:
        record(session, now, self.request.hostname)
