"""Queue a stored trade for the worker. If the broker is down the row simply waits as
``requested``; the sweeper publishes it again, so a request is never lost."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Celery
from sqlalchemy.exc import SQLAlchemyError

from backend.desk import Desk
from backend.resilience import Unavailable
from backend.trading import trades

log = logging.getLogger(__name__)

EXECUTE_TASK = "tasks.trading.execute"


def send(celery: Celery, trade_id: int) -> bool:
    """Put one execute message for the trade on the trading queue; False if the broker
    would not take it (the sweeper tries again)."""
    try:
        celery.send_task(EXECUTE_TASK, args=[trade_id], queue="trading")
    except Exception as exc:  # kombu raises several kinds when the broker is unreachable
        log.warning("could not queue trade %s, the sweeper will retry: %s", trade_id, exc)
        return False
    return True


def publish(celery: Celery, desk: Desk, trade_id: int, *, again: bool = False) -> datetime | None:
    """Send the trade and mark it queued: when it was marked, None if the broker would not
    take it (it stays requested) or the worker had already moved it on. ``again``: a trade
    queued long ago that no worker took (its message lost), sent once more and stamped."""
    if not send(celery, trade_id):
        return None
    sent = desk.now()
    try:
        marked = _mark_queued(desk, trade_id, sent, again)
    except (SQLAlchemyError, Unavailable) as exc:
        # the message is out, the mark is not: the worker's claim takes a requested trade
        # too, and the sweeper's publish of it again is run once
        log.warning("trade %s queued but not marked so, the database is away: %s", trade_id, exc)
        return None
    return sent if marked else None


def _mark_queued(desk: Desk, trade_id: int, sent: datetime, again: bool) -> bool:
    with desk.sessions.begin() as session:
        # lost with a crashed database, the trade is still "requested": the sweeper
        # publishes it again and the worker's claim runs it once; meanwhile the claim
        # that may be waiting on this row does not also wait for the disk
        return trades.transition(
            session,
            trade_id,
            ("queued",) if again else ("requested",),
            "queued",
            sent,
            "sent to the trading queue again: no worker took it"
            if again
            else "sent to the trading queue",
            actor="outbox",
            durable=False,
        )
