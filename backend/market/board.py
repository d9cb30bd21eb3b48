"""The Prices board, computed once when a book lands instead of on every request.

Ingest walks the new book for every ticket size, overall and per payment method, adds the
recent mids for a sparkline, and stores the result as JSON beside the latest book (the
``latest_books`` row, column ``board``). Each process reads a market's board once per
ingest (``Boards``); the API sends that JSON as it is and the Prices page keeps its
formatted rows with it, so a request only adds what depends on the clock: age and
staleness.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Dialect, Engine, event, select
from sqlalchemy.orm import Session

from backend import db, push
from backend.config import Settings
from backend.market import prices
from backend.market.book import Book
from backend.market.pricing import Reference, reference
from backend.models import LatestBook, PriceTick

SPARK_POINTS = 30
# Every market's, filtered in Python (an IN of the configured markets would be expanded on
# every call), on the driver's cursor: every Prices refresh and /api/v1/prices make this
# read, and SQLAlchemy's execution path costs several times the query.
_HEADS = "SELECT market, fetched_at, error FROM latest_books"
# How long a read of the heads answers for this process (``Boards.heads``). A page a push
# refreshes asks at least ``push.COALESCE_SECONDS`` after the commit the push announces,
# so a read this young cannot have missed it; a page that polls sees a book this much later.
HEADS_FOR_SECONDS = push.COALESCE_SECONDS / 2
_commits = 0  # this process's commits, on any engine: a read made before one is not kept


@event.listens_for(Engine, "commit")
def _committed(_connection) -> None:
    global _commits
    _commits += 1


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


@dataclass
class Stored:
    """One market's board as this process read it: the JSON text as stored (sent as is by
    the API), the parsed row, and what readers derived from it (``views``, e.g. the grid's
    formatted rows per ticket size), all dropped together when a newer book lands."""

    fetched_at: datetime
    text: str
    row: dict
    views: dict = field(default_factory=dict)


class Boards:
    """The boards this process has read, by market: a reader asks the table only which
    books are new (no JSON), and reads the board of those alone, once per ingest.
    ``views`` holds what a reader derived from every board at once (the Prices page's
    whole answer), each with the lines it was made from, so the reader can tell it is
    still current."""

    MAX_VIEWS = 64

    def __init__(self, clock=time.monotonic) -> None:
        self.rows: dict[str, Stored] = {}
        self.views: dict = {}
        self._clock = clock
        self._heads: tuple[int, float, list] | None = None  # (commits, read at, heads)

    def heads(self, engine: Engine) -> list[tuple[str, datetime, str | None]]:
        """``read_heads``, read again once ``HEADS_FOR_SECONDS`` old or after a commit in
        this process (without a pool checkout in between: every viewer's refresh asks)."""
        kept, commits, at = self._heads, _commits, self._clock()  # before the read
        if kept is not None and kept[0] == commits and at - kept[1] < HEADS_FOR_SECONDS:
            return kept[2]
        with db.outside_transactions(engine) as connection:
            found = read_heads(connection)
        self._heads = (commits, at, found)
        return found

    def view(self, key: tuple, lines: tuple, make):
        """``make()``, remembered under ``key`` while ``lines`` stay the same; at most
        ``MAX_VIEWS`` keys (a key may carry a value a client chose)."""
        kept = self.views.get(key)
        if kept is not None and kept[0] == lines:
            return kept[1]
        if len(self.views) >= self.MAX_VIEWS:
            self.views.clear()
        made = make()
        self.views[key] = (lines, made)
        return made

    def current(self, connection: Engine | Connection | Session, heads: dict[str, datetime]):
        new = [m for m, at in heads.items() if m not in self.rows or self.rows[m].fetched_at != at]
        if new and isinstance(connection, Engine):
            with connection.connect() as connected:
                return self.current(connected, heads)
        if new:
            for market, at, text in connection.execute(
                select(LatestBook.market, LatestBook.fetched_at, LatestBook.board).where(
                    LatestBook.market.in_(new), LatestBook.board.is_not(None)
                )
            ):
                self.rows[market] = Stored(at, text, json.loads(text))
        return {m: self.rows[m] for m in heads if m in self.rows}


@dataclass(frozen=True)
class Line:
    """One market on the board now: its stored board (None before its first book) and
    what depends on the clock and the last poll."""

    market: str
    stored: Stored | None
    error: str | None
    age_seconds: float | None
    stale: bool

    def clock(self) -> dict:
        return {"error": self.error, "age_seconds": self.age_seconds, "stale": self.stale}

    def as_json(self) -> dict:
        if self.stored is None:
            return prices.as_json(self.market, None, self.error) | {"methods": [], "sparkline": []}
        return self.stored.row | self.clock()

    def as_text(self) -> str:
        """``as_json`` serialized, without serializing the stored row again."""
        if self.stored is None:
            return json.dumps(self.as_json())
        return self.stored.text[:-1] + ", " + json.dumps(self.clock())[1:]


@functools.lru_cache(maxsize=8)
def _fetched_at(dialect: Dialect):
    """What SQLAlchemy does to a ``fetched_at`` the driver returns (UTC, parsed on SQLite)."""
    return LatestBook.__table__.c.fetched_at.type.dialect_impl(dialect).result_processor(
        dialect, None
    )


def read_heads(connection: Connection | Session) -> list[tuple[str, datetime, str | None]]:
    """Every stored book's market, ``fetched_at`` and last poll's error."""
    if isinstance(connection, Session):
        connection = connection.connection()
    when = _fetched_at(connection.dialect)
    return [(market, when(at), error) for market, at, error in db.raw_rows(connection, _HEADS)]


def lines(
    connection: Connection | Session,
    settings: Settings,
    now: datetime,
    boards: Boards | None = None,
) -> list[Line]:
    """Every configured market in order. A book older than ``STALE_AFTER_SECONDS`` or a
    failed last poll (an open breaker included) is stale on this very read: the heads are
    read on every call, only the boards are remembered."""
    return _lines(read_heads(connection), connection, settings, now, boards or Boards())


def lines_now(engine: Engine, settings: Settings, now: datetime, boards: Boards) -> list[Line]:
    """``lines`` for a request: the heads as ``boards`` keeps them (``Boards.heads``), a
    connection only to read a new book's board."""
    return _lines(boards.heads(engine), engine, settings, now, boards)


def _lines(found: list, source, settings: Settings, now: datetime, boards: Boards) -> list[Line]:
    heads = {
        market: (fetched_at, error)
        for market, fetched_at, error in found  # one row per market
        if market in settings.markets
    }
    stored = boards.current(source, {m: at for m, (at, _) in heads.items()})
    out = []
    for key in settings.markets:
        fetched_at, error = heads.get(key, (None, None))
        if key not in stored:
            out.append(Line(key, None, error, None, True))
            continue
        age = max(0.0, (now - fetched_at).total_seconds())
        stale = age > settings.stale_after_seconds or error is not None
        out.append(Line(key, stored[key], error, round(age, 2), stale))
    return out


def read(
    connection: Connection | Session,
    settings: Settings,
    now: datetime,
    boards: Boards | None = None,
) -> list[dict]:
    """Every configured market in order: its stored board row plus age, staleness and the
    last poll's error; a market with no book yet says so."""
    return [line.as_json() for line in lines(connection, settings, now, boards)]


def as_text(found: list[Line]) -> str:
    """The ``/api/v1/prices`` answer, assembled from the stored JSON."""
    return '{"prices": [' + ", ".join(line.as_text() for line in found) + "]}"
