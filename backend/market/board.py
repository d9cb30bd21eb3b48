"""The Prices board, computed once when a book lands instead of on every request.

Ingest walks the new book for every ticket size, overall and per payment method, adds the
recent mids for a sparkline, and stores the result beside the latest book (the
``latest_books`` row, under ``board``). The API and the Prices page then read one row per
market and only add what depends on the clock: age and staleness.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.market import prices
from backend.market.book import Book
from backend.market.pricing import Reference, reference
from backend.models import LatestBook, PriceTick

SPARK_POINTS = 30


def _quote(ref: Reference) -> dict:
    """The parts of ``prices.as_json`` that do not depend on the clock."""
    entry = prices.as_json(ref.market, ref)
    for key in ("error", "age_seconds", "stale"):
        entry.pop(key)
    return entry


def by_method(book: Book) -> dict[str, Book]:
    """One book per payment method: the ads that accept it (an ad naming none takes any)."""
    methods = sorted({m for ad in (*book.asks, *book.bids) for m in ad.methods})
    return {
        m: replace(
            book,
            asks=tuple(a for a in book.asks if a.accepts(m)),
            bids=tuple(b for b in book.bids if b.accepts(m)),
        )
        for m in methods
    }


def entry(
    book: Book,
    sizes_usd: list[Decimal],
    usd_per_asset: Decimal | None,
    now: datetime,
    history: list[Decimal | None],
) -> dict:
    """The board row of one market; sizes are priced only when the asset has a USD value."""
    sizes = sizes_usd if usd_per_asset else []
    usd = usd_per_asset or Decimal("1")
    ref = reference(book, sizes, usd, now, 0)
    row = _quote(ref)
    row["methods"] = [
        {"method": method} | _pick(_quote(reference(sub, sizes, usd, now, 0)))
        for method, sub in by_method(book).items()
    ]
    row["sparkline"] = [str(mid) for mid in [*history, ref.mid] if mid is not None][-SPARK_POINTS:]
    return row


def _pick(quote: dict) -> dict:
    keep = ("best_bid", "best_ask", "mid", "spread_pct", "bid_depth_1pct", "ask_depth_1pct")
    return {k: quote[k] for k in (*keep, "sizes")}


def recent_mids(
    session: Session, market: str, limit: int = SPARK_POINTS - 1
) -> list[Decimal | None]:
    """The mids of the last ticks, oldest first, None where the book was empty. Exactly
    ``limit`` entries of the (market, time) key are read whatever the history holds: a
    filter on the mid would walk back through a market's whole history while its book
    stays empty."""
    rows = session.scalars(
        select(PriceTick.mid)
        .where(PriceTick.market == market)
        .order_by(PriceTick.time.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


class Boards:
    """The board rows this process has read, by market, with the fetch they belong to: a
    reader asks the table only which books are new (no JSON), and reads and parses the
    board of those alone, once per ingest and process."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[datetime, dict]] = {}

    def current(self, session: Session, heads: dict[str, datetime]) -> dict[str, dict]:
        new = [m for m, at in heads.items() if self.rows.get(m, (None,))[0] != at]
        if new:
            for market, at, board in session.execute(
                select(LatestBook.market, LatestBook.fetched_at, LatestBook.book["board"]).where(
                    LatestBook.market.in_(new)
                )
            ):
                self.rows[market] = (at, board)
        return {m: self.rows[m][1] for m in heads if m in self.rows}


def read(
    session: Session, settings: Settings, now: datetime, boards: Boards | None = None
) -> list[dict]:
    """Every configured market in order: its stored board row plus age, staleness and the
    last poll's error; a market with no book yet says so."""
    heads = {
        market: (fetched_at, error)
        for market, fetched_at, error in session.execute(
            select(LatestBook.market, LatestBook.fetched_at, LatestBook.error).where(
                LatestBook.market.in_(settings.markets)
            )
        )
    }
    stored = (boards or Boards()).current(session, {m: at for m, (at, _) in heads.items()})
    out = []
    for key in settings.markets:
        fetched_at, error = heads.get(key, (None, None))
        board = stored.get(key)
        if not board:
            out.append(prices.as_json(key, None, error) | {"methods": [], "sparkline": []})
            continue
        age = max(0.0, (now - fetched_at).total_seconds())
        stale = age > settings.stale_after_seconds or error is not None
        out.append(board | {"error": error, "age_seconds": round(age, 2), "stale": stale})
    return out
