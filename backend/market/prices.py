"""Reference prices for every configured market, as the Prices page and the API show them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.market.book import Book, Market
from backend.market.pricing import Reference, reference


def usd_per_asset(asset: str, books: dict[str, Book]) -> Decimal | None:
    """USDT is the desk's dollar; other assets are valued at their spot USDT mid."""
    if asset in ("USDT", "USD"):
        return Decimal("1")
    spot = books.get(f"spot:{asset}/USDT")
    if spot is None or not spot.bids or not spot.asks:
        return None
    return (spot.bids[0].price + spot.asks[0].price) / 2


def references(
    session: Session, cache: Cache, settings: Settings, now: datetime
) -> dict[str, Reference | None]:
    """Every configured market, in configured order; None where no book arrived yet."""
    books = latest.get_many(session, cache, settings.markets)
    out: dict[str, Reference | None] = {}
    for key in settings.markets:
        book = books.get(key)
        usd = usd_per_asset(Market.parse(key).asset, books)
        out[key] = (
            None
            if book is None or usd is None
            else reference(book, settings.ticket_sizes_usd, usd, now, settings.stale_after_seconds)
        )
    return out


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def as_json(key: str, ref: Reference | None, error: str | None = None) -> dict:
    market = Market.parse(key)
    entry = {
        "market": key,
        "label": market.label,
        "venue": market.venue.value,
        "asset": market.asset,
        "fiat": market.fiat,
        "error": error,
    }
    if ref is None:
        return entry | {"source": None, "stale": True, "best_bid": None, "best_ask": None}
    return entry | {
        "source": ref.source,
        "best_bid": _s(ref.best_bid),
        "best_ask": _s(ref.best_ask),
        "mid": _s(ref.mid),
        "spread_pct": _s(ref.spread_pct and round(ref.spread_pct, 4)),
        "bid_depth_1pct": _s(ref.bid_depth_1pct),
        "ask_depth_1pct": _s(ref.ask_depth_1pct),
        "sizes": [
            {
                "size_usd": _s(q.size_usd),
                "quantity": _s(q.quantity),
                "effective_bid": _s(q.effective_bid),
                "effective_ask": _s(q.effective_ask),
                "bid_fillable": q.bid_fillable,
                "ask_fillable": q.ask_fillable,
            }
            for q in ref.sizes
        ],
        "fetched_at": ref.fetched_at.isoformat(),
        "age_seconds": round(ref.age_seconds, 2),
        "stale": ref.stale or error is not None,  # the last poll failed: not fresh
    }
