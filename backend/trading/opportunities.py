"""Opportunities as rows: the scan refreshes the ones it still sees and expires the rest."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.models import Opportunity, Trade
from backend.ops import metrics
from backend.trading import arbitrage

STRATEGIES = ("crossed_book", "spot_p2p", "triangle")


def record_scan(
    session: Session, found: list[arbitrage.Opportunity], now: datetime, ttl_seconds: int
) -> int:
    """Upsert what the scan found by fingerprint; expire every other active row. Profit
    is listed rounded down to the cent, never showing more than is there."""
    active = {
        row.fingerprint: row
        for row in session.scalars(select(Opportunity).where(Opportunity.status == "active"))
    }
    expires = now + timedelta(seconds=ttl_seconds)
    for opp in found:
        row = active.pop(opp.fingerprint, None)
        if row is None:
            row = Opportunity(fingerprint=opp.fingerprint, first_seen=now)
            session.add(row)
        row.strategy = opp.strategy
        row.legs = [leg.to_dict() for leg in opp.legs]
        row.size_usd = opp.size_usd
        row.profit_usd = opp.profit_usd.quantize(arbitrage.CENT, rounding=ROUND_FLOOR)
        row.profit_bps = opp.profit_bps.quantize(arbitrage.CENT, rounding=ROUND_FLOOR)
        row.status, row.last_seen, row.expires_at = "active", now, expires
    if active:
        session.execute(
            update(Opportunity)
            .where(Opportunity.id.in_([row.id for row in active.values()]))
            .values(status="expired")
        )
    counts = Counter(opp.strategy for opp in found)
    for strategy in STRATEGIES:
        metrics.ACTIVE_OPPORTUNITIES.labels(strategy=strategy).set(counts[strategy])
    return len(found)


IN_FLIGHT = ("requested", "queued", "executing", "awaiting_operator")


def list_active(session: Session, now: datetime) -> list[Opportunity]:
    """Active opportunities, less those being executed: their liquidity is spoken for
    until the trade ends, and the next scan prices what it left."""
    busy = select(Trade.opportunity_id).where(Trade.status.in_(IN_FLIGHT))
    rows = session.scalars(
        select(Opportunity).where(
            Opportunity.status == "active",
            Opportunity.expires_at > now,
            Opportunity.id.not_in(busy),
        )
    )
    return sorted(rows, key=lambda row: row.profit_usd, reverse=True)  # SQLite keeps money as text
