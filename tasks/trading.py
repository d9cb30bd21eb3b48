"""Trade execution (acks late: survives a worker crash) and the outbox sweeper."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app

from backend import push
from backend.desk import current_desk
from backend.trading import executor, outbox, trades
from tasks.celery_app import DB_RETRY

REPUBLISH_AFTER = timedelta(seconds=10)
# A queued trade no worker has claimed by then lost its message (the broker lost it, or
# its task spent its retries on a database outage): nothing else would ever run it.
REQUEUE_AFTER = timedelta(minutes=1)
EXECUTING_TIMEOUT = timedelta(minutes=5)
LEASE_GRACE = timedelta(seconds=5)  # a redelivery usually takes a lapsed trade over first


@shared_task(
    bind=True,
    name="tasks.trading.execute",
    acks_late=True,
    reject_on_worker_lost=True,
    **DB_RETRY,
)
def execute(self, trade_id: int) -> str:
    """The attempt is the owner (host, process, task id); a trade another live attempt
    holds is looked at again just after that attempt's lease lapses (a live spot order's
    lease covers its whole call)."""
    desk = current_desk()
    owner = f"{executor.default_owner()}:{self.request.id}"
    status = executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now, owner)
    if status in trades.RUNNING:  # held by another attempt, or a live order still in doubt
        with desk.sessions() as session:
            left = trades.lease_left(session, trade_id, desk.now())
        raise self.retry(countdown=max(left, 0.0) + desk.settings.trade_lease_seconds / 5)
    push.announce(desk.cache, "trades", id=trade_id, status=status)
    return status


@shared_task(name="tasks.trading.sweep", **DB_RETRY)
def sweep() -> int:
    """Publish requests the web could not queue, and queued trades no worker took within a
    minute; send again the trades whose worker's lease lapsed with no redelivery taking
    them over (a message lost with the broker);
    fail, as the last resort, trades left executing for 5 minutes that sent no order to a
    venue (one that did is sent again, to be looked up, however old)."""
    desk = current_desk()
    now = desk.now()
    with desk.sessions() as session:
        waiting = trades.stuck(session, "requested", now - REPUBLISH_AFTER)
        unclaimed = trades.stuck(session, "queued", now - REQUEUE_AFTER)
        abandoned = trades.abandoned(session, now - LEASE_GRACE, now - EXECUTING_TIMEOUT)
        lost = trades.lost(session, now - EXECUTING_TIMEOUT)
    celery = current_app.extensions["celery"]
    for trade_id in waiting:
        outbox.publish(celery, desk, trade_id)
    for trade_id in unclaimed:
        outbox.publish(celery, desk, trade_id, again=True)
    for trade_id in abandoned:
        outbox.send(celery, trade_id)
    with desk.sessions.begin() as session:
        for trade_id in lost:
            trades.transition(
                session,
                trade_id,
                ("executing",),
                "failed",
                now,
                "no result from the worker within 5 minutes",
                actor="sweeper",
                error="worker lost",
            )
    return len(waiting) + len(unclaimed) + len(abandoned) + len(lost)
