"""Search the fresh books for profitable cycles and refresh the opportunities table."""

from __future__ import annotations

from celery import shared_task

from backend import arbitrage, controls, opportunities
from backend.desk import current_desk
from backend.executor import fees_from
from backend.market import latest


@shared_task(name="tasks.arbitrage.scan")
def scan() -> int:
    desk = current_desk()
    settings, now = desk.settings, desk.now()
    with desk.sessions.begin() as session:
        books = latest.get_many(session, desk.cache, settings.markets)
        fresh = {k: b for k, b in books.items()
                 if b.age_seconds(now) <= settings.stale_after_seconds}
        limits = controls.load(session, settings)
        found = arbitrage.scan(fresh, settings.ticket_sizes_usd, fees_from(settings),
                               limits.min_profit_usd)
        return opportunities.record_scan(session, found, now, settings.opportunity_ttl_seconds)
