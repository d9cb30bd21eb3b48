"""Proof of life for /health/celery: beat -> broker -> worker -> database, every 5 s.

Each run also stamps the worker that ran it (``worker_heartbeat:celery@host``), so the
System page can tell which workers are alive; beat's messages reach every worker in turn.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from sqlalchemy.orm import Session

from backend.desk import current_desk
from backend.models import Setting
from tasks.celery_app import DB_RETRY

KEY = "worker_heartbeat"
WORKER = KEY + ":"  # + the worker's host name


def record(session: Session, now: datetime, worker: str | None = None) -> None:
    session.merge(Setting(key=KEY, value=now.isoformat(), updated_at=now))
    if worker:
        name = WORKER + worker[: 64 - len(WORKER)]
        session.merge(Setting(key=name, value=now.isoformat(), updated_at=now))


@shared_task(name="tasks.heartbeat.beat", bind=True, **DB_RETRY)
def beat(self) -> None:
    desk = current_desk()
    with desk.sessions.begin() as session:
        record(session, desk.now(), self.request.hostname)
