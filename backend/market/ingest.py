"""One poll of one market: fetch, normalize, store the tick, the changed ads, the latest book."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from backend import metrics
from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.market.book import Ad, Book, Market
from backend.market.pricing import reference
from backend.models import AdSnapshot, PriceTick
from backend.prices import usd_per_asset


def _ad_state(ad: Ad) -> tuple:
    return (ad.price, ad.quantity, ad.min_amount, ad.max_amount, ad.methods)


def changed_ads(book: Book, previous: Book | None) -> list[tuple[str, Ad]]:
    """Ads that are new or differ from the previous poll: the only ones worth a row."""
    seen = {}
    if previous is not None:
        seen = {(side, ad.ad_no): _ad_state(ad)
                for side, ads in (("ask", previous.asks), ("bid", previous.bids)) for ad in ads}
    return [(side, ad) for side, ads in (("ask", book.asks), ("bid", book.bids)) for ad in ads
            if seen.get((side, ad.ad_no)) != _ad_state(ad)]


def store(session: Session, cache: Cache, settings: Settings, book: Book, now: datetime) -> int:
    """Write one fetched book; returns the number of ad rows written."""
    previous = latest.get(session, cache, book.market.key)
    asset = book.market.asset
    spot = {} if asset == "USDT" else latest.get_many(session, cache, [f"spot:{asset}/USDT"])
    usd = usd_per_asset(asset, spot)
    sizes = [settings.default_ticket_usd] if usd else []  # no USD value yet: no sized quote
    ref = reference(book, sizes, usd or Decimal("1"), now, settings.stale_after_seconds)
    quote = ref.sizes[0] if ref.sizes else None
    session.execute(insert(PriceTick), [{
        "time": book.fetched_at, "market": book.market.key, "source": book.source,
        "best_bid": ref.best_bid, "best_ask": ref.best_ask, "mid": ref.mid,
        "effective_bid": quote and quote.effective_bid,
        "effective_ask": quote and quote.effective_ask,
        "ticket_usd": settings.default_ticket_usd,
        "bid_depth": ref.bid_depth_1pct, "ask_depth": ref.ask_depth_1pct,
    }])
    rows = [{
        "time": book.fetched_at, "market": book.market.key, "side": side, "ad_no": ad.ad_no,
        "price": ad.price, "quantity": ad.quantity, "min_amount": ad.min_amount,
        "max_amount": ad.max_amount, "methods": ",".join(ad.methods)[:255],
        "advertiser": ad.advertiser.nick[:64], "user_type": ad.advertiser.user_type,
        "month_orders": ad.advertiser.month_orders, "finish_rate": ad.advertiser.finish_rate,
    } for side, ad in changed_ads(book, previous)]
    if rows:
        session.execute(insert(AdSnapshot), rows)
    latest.put(session, cache, book, settings.book_ttl_seconds)
    metrics.PRICE_UPDATES.labels(asset=book.market.asset, fiat=book.market.fiat,
                                 source=book.source).inc()
    metrics.MARKET_STALE.labels(market=book.market.key).set(0)
    return len(rows)


def ingest(session: Session, cache: Cache, settings: Settings, source, market: Market,
           now: datetime) -> Book:
    book = source.fetch(market).sorted()
    store(session, cache, settings, book, now)
    return book
