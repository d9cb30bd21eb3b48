"""Proof of life for /health/celery: beat -> broker -> worker -> database, every 5 s."""

from __future__ import annotations

from celery import shared_task

from backend.desk import current_desk
from backend.trading import controls
from tasks.celery_app import DB_RETRY


@shared_task(name="tasks.heartbeat.beat", **DB_RETRY)
def beat() -> None:
    desk = current_desk()
    with desk.sessions.begin() as session:
        controls.set_value(session, "worker_heartbeat", desk.now().isoformat())
