"""Small builders for books and ads, so a test states only the numbers it cares about."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from backend.market.book import Ad, Advertiser, Book, Market

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ad(price, qty, min_amount="0", max_amount=None, methods=("Banesco",), ad_no=None) -> Ad:
    return Ad(
        ad_no=ad_no or f"ad-{price}-{qty}-{'-'.join(methods)}",
        price=Decimal(str(price)),
        quantity=Decimal(str(qty)),
        min_amount=Decimal(str(min_amount)),
        max_amount=None if max_amount is None else Decimal(str(max_amount)),
        methods=tuple(methods),
        advertiser=Advertiser(nick="tester", user_type="merchant", month_orders=100),
    )


def book(key: str, asks=(), bids=(), fetched_at=NOW, source="test") -> Book:
    return Book(Market.parse(key), tuple(asks), tuple(bids), fetched_at, source).sorted()
