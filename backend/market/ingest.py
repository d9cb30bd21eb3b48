"""One poll of one market: fetch, normalize, store the tick, the changed ads, the latest book."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from backend.cache import Cache
from backend.config import Settings
from backend.market import board, candles, filters, latest, snapshots
from backend.market.book import Book, Market, Venue
from backend.market.prices import usd_per_asset
from backend.market.pricing import reference
from backend.models import PriceTick
from backend.ops import metrics


def effective_at(row: dict, size: Decimal, side: str) -> Decimal | None:
    """The board row's effective ``side`` price at ``size`` USD, if it priced that size."""
    quote = next((q for q in row["sizes"] if Decimal(q["size_usd"]) == size), {})
    value = quote.get(f"effective_{side}")
    return None if value is None else Decimal(value)


def store(session: Session, cache: Cache, settings: Settings, book: Book, now: datetime) -> int:
    """Write one fetched book; returns the number of ad rows written."""
    previous = latest.get(session, cache, book.market.key)
    asset = book.market.asset
    spot = {} if asset == "USDT" else latest.get_many(session, cache, [f"spot:{asset}/USDT"])
    usd = usd_per_asset(asset, spot)
    row = board.entry(
        book, settings.ticket_sizes_usd, usd, now, board.recent_mids(session, book.market.key)
    )
    ref = reference(book, [], Decimal("1"), now, settings.stale_after_seconds)
    session.execute(
        insert(PriceTick),
        [
            {
                "time": book.fetched_at,
                "market": book.market.key,
                "source": book.source,
                "best_bid": ref.best_bid,
                "best_ask": ref.best_ask,
                "mid": ref.mid,
                "effective_bid": effective_at(row, settings.default_ticket_usd, "bid"),
                "effective_ask": effective_at(row, settings.default_ticket_usd, "ask"),
                "ticket_usd": settings.default_ticket_usd,
                "bid_depth": ref.bid_depth_1pct,
                "ask_depth": ref.ask_depth_1pct,
            }
        ],
    )
    if ref.mid is not None:
        candles.record(session, book.market.key, book.fetched_at, ref.mid)
    written = snapshots.write(session, snapshots.rows(book, previous))
    latest.put(session, cache, book, settings.book_ttl_seconds, board=row)
    metrics.PRICE_UPDATES.labels(
        asset=book.market.asset, fiat=book.market.fiat, source=book.source
    ).inc()
    metrics.MARKET_STALE.labels(market=book.market.key).set(0)
    for side, price in (("bid", ref.best_bid), ("ask", ref.best_ask)):
        if price is not None:
            metrics.MARKET_PRICE.labels(market=book.market.key, side=side).set(float(price))
    if ref.best_bid and ref.best_ask and ref.mid:
        spread = (ref.best_ask - ref.best_bid) / ref.mid * 10000
        metrics.MARKET_SPREAD_BPS.labels(market=book.market.key).set(float(spread))
    return written


def ingest(
    session: Session, cache: Cache, settings: Settings, source, market: Market, now: datetime
) -> Book:
    """Fetch, keep only the ads the desk can take (whatever the source), store."""
    book = source.fetch(market).sorted()
    if market.venue is Venue.P2P:
        rules = filters.rules_for(settings, market.fiat)
        book = replace(
            book, asks=filters.apply(book.asks, rules), bids=filters.apply(book.bids, rules)
        )
    store(session, cache, settings, book, now)
    return book
