"""Ingest one market per beat tick; after a successful ingest, ask for an arbitrage scan."""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy.exc import SQLAlchemyError

from backend import push
from backend.desk import current_desk
from backend.market import ingest as ingest_book
from backend.market import latest
from backend.market.book import Market
from backend.ops import metrics
from backend.resilience import Unavailable

log = logging.getLogger(__name__)


@shared_task(name="tasks.market.ingest")
def ingest(market_key: str) -> None:
    desk = current_desk()
    market = Market.parse(market_key)
    source_name = desk.settings.source_for(market_key)
    try:
        source = desk.source(source_name)
        with desk.sessions.begin() as session:
            ingest_book.ingest(session, desk.cache, desk.settings, source, market, desk.now())
    except Exception as exc:  # a bad reply is logged and counted, never a crashed worker
        log.error("ingest %s from %s failed: %s", market_key, source_name, exc)
        reason = getattr(exc, "reason", type(exc).__name__)
        metrics.INGEST_ERRORS.labels(market=market_key, source=source_name, reason=reason).inc()
        metrics.MARKET_STALE.labels(market=market_key).set(1)
        _record_error(desk, market_key, exc)
        return
    push.announce(desk.cache, "prices", market=market_key)
    # Debounce: one scan per half interval however many markets just landed.
    if desk.cache.add("scan:pending", "1", desk.settings.ingest_interval_seconds / 2):
        from tasks.arbitrage import scan

        scan.delay()


def _record_error(desk, market_key: str, exc: Exception) -> None:
    """The error on the market's row, for the Prices page, if the database takes it. When
    the database is what failed, recording it failed too, and the task raised a traceback
    per market per tick; the line logged above already names the outage."""
    try:
        with desk.sessions.begin() as session:
            latest.record_error(session, market_key, f"{type(exc).__name__}: {exc}")
    except (SQLAlchemyError, Unavailable) as db_exc:
        log.warning("ingest %s: error not recorded, the database is away: %s", market_key, db_exc)
