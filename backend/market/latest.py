"""The newest book per market: Redis first (TTL), the latest_books table behind it.

Keys are ``latest:<market>`` under the cache's REDIS_PREFIX (``desk:latest:p2p:USDT/VES``).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backend.cache import Cache
from backend.market.book import Book
from backend.models import LatestBook
from backend.ops import metrics

PREFIX = "latest:"


def put(session: Session, cache: Cache, book: Book, ttl: float, board: dict | None = None) -> None:
    """Store the newest book; ``board`` (its precomputed Prices row) goes in the same row,
    as JSON text the API can send without serializing it again."""
    data = book.to_dict()
    session.merge(
        LatestBook(
            market=book.market.key,
            fetched_at=book.fetched_at,
            source=book.source,
            book=data,
            error=None,
            board=json.dumps(board) if board else None,
        )
    )
    if cache.shared:
        cache.set(PREFIX + book.market.key, json.dumps(data), ttl)


def record_error(session: Session, market_key: str, error: str) -> None:
    row = session.get(LatestBook, market_key)
    if row is not None:
        row.error = error[:500]


def get(session: Session, cache: Cache, market_key: str) -> Book | None:
    return get_many(session, cache, [market_key]).get(market_key)


def get_many(session: Session, cache: Cache, market_keys: list[str]) -> dict[str, Book]:
    """Redis first; whatever it lacks (or everything, without Redis) from the table."""
    books: dict[str, Book] = {}
    missing = []
    raws = cache.get_many([PREFIX + key for key in market_keys]) if cache.shared else []
    for key, raw in zip(market_keys, raws or [None] * len(market_keys), strict=True):
        if raw is None:
            missing.append(key)
        else:
            books[key] = Book.from_dict(json.loads(raw))
    if books:
        metrics.CACHE_HITS.labels(cache="latest_book").inc(len(books))
    if missing and cache.shared:
        metrics.CACHE_MISSES.labels(cache="latest_book").inc(len(missing))
    if missing:
        rows = session.scalars(select(LatestBook).where(LatestBook.market.in_(missing)))
        books.update({row.market: Book.from_dict(row.book) for row in rows})
    return books


def errors(session: Session) -> dict[str, str]:
    rows = session.execute(
        select(LatestBook.market, LatestBook.error).where(LatestBook.error.is_not(None))
    )
    return dict(rows.all())


def locked(session: Session, market_keys: list[str]) -> tuple[dict[str, Book], set[str]]:
    """The books of these markets read from their rows, and the markets whose last poll
    failed. On PostgreSQL the rows stay locked until the transaction ends, so fills on
    the same books take turns and together take at most what the books hold; the books
    come from the rows locked, never from a cache that may lag them, in one round trip."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_LOCKED, {"markets": list(market_keys)})
    else:
        rows = session.execute(
            select(LatestBook.market, LatestBook.book, LatestBook.error).where(
                LatestBook.market.in_(market_keys)
            )
        )
    books, failing = {}, set()
    for market, data, error in rows:
        books[market] = Book.from_dict(data)
        if error is not None:
            failing.add(market)
    return books, failing


_book = LatestBook.__table__.c
# PostgreSQL: built once per process, on the table (no ORM entity to set up per call), the
# markets as one array (no IN list to render again at each execution)
_LOCKED = (
    select(_book.market, _book.book, _book.error)
    .where(_book.market == any_(bindparam("markets", type_=ARRAY(String))))
    .order_by(_book.market)
    .with_for_update()
)


def stale(
    session: Session, books: dict[str, Book], market_keys, now: datetime, max_age: float
) -> set[str]:
    """Markets not to trust: no book, a book older than ``max_age``, or a failed last poll
    (an open breaker included), whatever the age of the book still on record."""
    return untrusted(books, set(errors(session)), market_keys, now, max_age)


def untrusted(
    books: dict[str, Book], failing: set[str], market_keys, now: datetime, max_age: float
) -> set[str]:
    """``stale`` once the failing markets are known."""
    return {
        key
        for key in market_keys
        if key not in books or key in failing or books[key].age_seconds(now) > max_age
    }
