"""Ad snapshots: a row only when an ad is new or changed, written with COPY on PostgreSQL.

Eight markets x two sides x fifty ads every two seconds would be ~100M rows a day if
every poll were stored; advertisers re-price every few minutes, so diffing against the
previous book keeps a market-day in the tens of megabytes. Spot depth levels are not
ads and are not stored here (the tick keeps their best and ticket prices).
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from backend.market.book import Ad, Book, Venue
from backend.models import AdSnapshot

COLUMNS = (
    "time",
    "market",
    "side",
    "ad_no",
    "price",
    "quantity",
    "min_amount",
    "max_amount",
    "methods",
    "advertiser",
    "user_type",
    "month_orders",
    "finish_rate",
)


def _state(ad: Ad) -> tuple:
    return (ad.price, ad.quantity, ad.min_amount, ad.max_amount, ad.methods)


def changed_ads(book: Book, previous: Book | None) -> list[tuple[str, Ad]]:
    """Ads that are new or differ from the previous poll: the only ones worth a row."""
    seen = {}
    if previous is not None:
        seen = {
            (side, ad.ad_no): _state(ad)
            for side, ads in (("ask", previous.asks), ("bid", previous.bids))
            for ad in ads
        }
    return [
        (side, ad)
        for side, ads in (("ask", book.asks), ("bid", book.bids))
        for ad in ads
        if seen.get((side, ad.ad_no)) != _state(ad)
    ]


def rows(book: Book, previous: Book | None) -> list[tuple]:
    if book.market.venue is Venue.SPOT:
        return []
    return [
        (
            book.fetched_at,
            book.market.key,
            side,
            ad.ad_no,
            ad.price,
            ad.quantity,
            ad.min_amount,
            ad.max_amount,
            ",".join(ad.methods)[:255],
            ad.advertiser.nick[:64],
            ad.advertiser.user_type[:10],
            ad.advertiser.month_orders,
            ad.advertiser.finish_rate,
        )
        for side, ad in changed_ads(book, previous)
    ]


def write(session: Session, batch: list[tuple]) -> int:
    """One COPY per batch on PostgreSQL (inside the session's transaction), else executemany."""
    if not batch:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with (
            connection.connection.driver_connection.cursor() as cur,
            cur.copy(f"COPY ad_snapshots ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in batch:
                copy.write_row(row)
    else:
        session.execute(insert(AdSnapshot), [dict(zip(COLUMNS, row, strict=True)) for row in batch])
    return len(batch)
