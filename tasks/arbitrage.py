"""Search the fresh books for profitable cycles and refresh the opportunities table."""

from __future__ import annotations

from celery import shared_task

from backend import push
from backend.desk import current_desk
from backend.market import latest
from backend.ops import metrics
from backend.trading import arbitrage, controls, liquidity, opportunities
from backend.trading.quotes import fees_from
from tasks.celery_app import DB_RETRY


@shared_task(name="tasks.arbitrage.scan", **DB_RETRY)
def scan() -> int:
    desk = current_desk()
    settings, now = desk.settings, desk.now()
    with desk.sessions.begin() as session:
        books = latest.get_many(session, desk.cache, settings.markets)
        stale = latest.stale(session, books, settings.markets, now, settings.stale_after_seconds)
        fresh = liquidity.remaining(session, {k: b for k, b in books.items() if k not in stale})
        for key in settings.markets:  # nothing downstream may mistake stale for fresh
            metrics.MARKET_STALE.labels(market=key).set(key in stale)
        limits = controls.load(session, settings)
        found = arbitrage.scan(
            fresh,
            settings.ticket_sizes_usd,
            fees_from(settings),
            limits.min_profit_usd,
            settings.paper_slippage,
        )
        count = opportunities.record_scan(session, found, now, settings.opportunity_ttl_seconds)
    push.announce(desk.cache, "opportunities")
    return count
