"""Liquidity is used once: what a fill took from an ad is recorded against the book it
was taken from (the fetch its leg was priced on), and every later scan or execution sees
that book less those takes until a fresher book replaces it. Never against a newer fetch:
one made after the fill (a ticket confirmed minutes later) may already show the ads
without what was taken, and would count it twice."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, String, Subquery, and_, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backend import db
from backend.market import precision
from backend.market.book import Ad, Book
from backend.market.pricing import walk
from backend.models import LiquidityTake
from backend.trading.execution import LegFill


def less(book: Book, taken: dict[tuple[str, str], Decimal]) -> Book:
    """``book`` with each ad reduced by what was taken from it; emptied ads are gone."""

    def side(ads: tuple[Ad, ...], taker_side: str) -> tuple[Ad, ...]:
        out = []
        for ad in ads:
            left = ad.quantity - taken.get((taker_side, ad.ad_no), Decimal("0"))
            if left > 0:
                out.append(ad if left == ad.quantity else replace(ad, quantity=left))
        return tuple(out)

    return replace(book, asks=side(book.asks, "BUY"), bids=side(book.bids, "SELL"))


def remaining(session: Session, books: dict[str, Book]) -> dict[str, Book]:
    """The books less what fills took from these very fetches."""
    if not books:
        return books
    rows = session.execute(
        select(
            LiquidityTake.market,
            LiquidityTake.side,
            LiquidityTake.ad_no,
            LiquidityTake.fetched_at,
            LiquidityTake.quantity,
        ).where(LiquidityTake.market.in_(books), LiquidityTake.fetched_at >= oldest(books))
    )
    return less_takes(books, rows)


def oldest(books: dict[str, Book]) -> datetime:
    """The fetch the takes that may concern ``books`` are recorded against, at the earliest."""
    return min(b.fetched_at for b in books.values())


def with_takes(head: Subquery) -> Select:
    """PostgreSQL: ``head``'s one row, joined to the takes that may concern the books
    (``takes_params``), one row per take; one row of NULLs after the head's when none.
    ``split`` reads it: one round trip for another read and the takes."""
    take = LiquidityTake.__table__.c
    concerned = and_(
        take.market == any_(bindparam("markets", type_=ARRAY(String))),
        take.fetched_at >= bindparam("oldest", type_=take.fetched_at.type),
    )
    taken = (take.market, take.side, take.ad_no, take.fetched_at, take.quantity)
    return select(*head.c, *taken).select_from(head.outerjoin(LiquidityTake, concerned))


def takes_params(books: dict[str, Book], now: datetime) -> dict:
    return {"markets": sorted(books), "oldest": oldest(books) if books else now}


def split(rows: list, books: dict[str, Book]) -> tuple[tuple, dict[str, Book]]:
    """``with_takes``'s rows: the head's row, and ``books`` less the takes."""
    width = len(rows[0]) - 5
    takes = (row[width:] for row in rows if row[width] is not None)
    return tuple(rows[0][:width]), less_takes(books, takes)


def less_takes(books: dict[str, Book], rows: Iterable[tuple]) -> dict[str, Book]:
    """The books less the takes ``rows`` (market, side, ad_no, fetched_at, quantity) of
    their very fetches; rows of other fetches, or all None, count nothing."""
    taken: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for market, side, ad_no, fetched_at, quantity in rows:
        if market in books and fetched_at >= books[market].fetched_at:
            taken[market][(side, ad_no)] += quantity
    return {k: less(b, taken[k]) if k in taken else b for k, b in books.items()}


def record(
    session: Session, trade_id: int, fills: list[LegFill], books: dict[str, Book], now: datetime
) -> None:
    db.insert_rows(session, LiquidityTake, rows(trade_id, fills, books))


def rows(trade_id: int, fills: list[LegFill], books: dict[str, Book]) -> list[dict]:
    """The take rows of ``fills``, each against the fetch of the book it was priced on."""
    return [
        row(trade_id, f.leg.market, f.leg.side, books[f.leg.market].fetched_at, ad_no, quantity)
        for f in fills
        for ad_no, _price, quantity in f.takes
        if quantity > 0
    ]


def take(
    session: Session,
    trade_id: int,
    market: str,
    side: str,
    fetched_at: datetime,
    takes: Iterable[tuple[str, Decimal]],
) -> None:
    """Record what ``side`` took from each ad (``(ad_no, quantity)``) of the book of
    ``market`` fetched at ``fetched_at``."""
    rows = [
        row(trade_id, market, side, fetched_at, ad_no, quantity)
        for ad_no, quantity in takes
        if quantity > 0
    ]
    db.insert_rows(session, LiquidityTake, rows)


def take_quantity(
    session: Session, trade_id: int, book: Book, side: str, quantity: Decimal
) -> None:
    """Record a fill whose venue does not say which levels it took (a spot MARKET order):
    ``quantity`` of the asset walked over ``side``'s levels of ``book``, best first, as
    the order took them."""
    fill = walk(book.side(side), quantity, None, precision.of(book.market))
    takes = [(ad_no, taken) for ad_no, _price, taken in fill.takes]
    take(session, trade_id, book.market.key, side, book.fetched_at, takes)


def row(trade_id, market, side, fetched_at, ad_no, quantity) -> dict:
    return {
        "market": market,
        "side": side,
        "ad_no": ad_no,
        "fetched_at": fetched_at,
        "quantity": quantity,
        "trade_id": trade_id,
    }
