"""Proof of life for /health/celery: beat -> broker -> worker -> database, every 5 s."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from sqlalchemy.orm import Session

from backend.desk import current_desk
from backend.models import Setting
from tasks.celery_app import DB_RETRY

KEY = "worker_heartbeat"


def record(session: Session, now: datetime) -> None:
    session.merge(Setting(key=KEY, value=now.isoformat(), updated_at=now))


@shared_task(name="tasks.heartbeat.beat", **DB_RETRY)
def beat() -> None:
    desk = current_desk()
    with desk.sessions.begin() as session:
        record(session, desk.now())
