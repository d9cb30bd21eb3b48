"""Operator tickets on the dashboards: how many are open, how many are overdue; and the
trades whose unwind is stranded."""

from __future__ import annotations

from celery import shared_task

from backend.desk import current_desk
from backend.ops import metrics
from backend.trading import tickets, trades
from tasks.celery_app import DB_RETRY


@shared_task(name="tasks.tickets.watch", **DB_RETRY)
def watch() -> int:
    """Set the gauges the OperatorTicketOverdue and TradeStranded alerts read; returns the
    overdue count."""
    desk = current_desk()
    with desk.sessions() as session:
        opened = tickets.open_count(session)
        late = tickets.overdue(session, desk.now(), desk.settings.ticket_alert_seconds)
        stranded = len(trades.stranded(session))
    metrics.OPERATOR_TICKETS_OPEN.set(opened)
    metrics.OPERATOR_TICKETS_OVERDUE.set(late)
    metrics.TRADES_STRANDED.set(stranded)
    return late
