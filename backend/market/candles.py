"""One-minute candles of the mid price for the charts, kept per minute as ticks arrive.

A chart reads ``price_candles_1m``: one row per market and minute, so 24 hours cost 1,440
rows however many ticks the history holds. On TimescaleDB that name is a real-time
continuous aggregate over the ticks; elsewhere (plain PostgreSQL, SQLite) it is a table
that ingest updates with every tick (``record``), and ``rebuild`` fills from the ticks
already stored (migration 0009, bulk loads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import case, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.models import PriceCandle
from backend.types import Money, UTCDateTime


@dataclass(frozen=True)
class Candle:
    bucket: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


def minute_candles(session: Session, market: str, since: datetime) -> list[Candle]:
    """The whole minutes that start at or after ``since``, oldest first."""
    c = PriceCandle
    rows = session.execute(
        select(c.bucket, c.open, c.high, c.low, c.close)
        # TimescaleDB's aggregate counts empty books too: a minute that opened with one
        # has no open price, and is left out rather than drawn half
        .where(c.market == market, c.bucket >= since, c.open.is_not(None))
        .order_by(c.bucket)
    )
    return [Candle(*row) for row in rows]


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def maintained(session: Session) -> bool:
    """True when ``price_candles_1m`` is this module's table, not TimescaleDB's view."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return (
        session.execute(
            text("SELECT relkind FROM pg_class WHERE oid = to_regclass('price_candles_1m')")
        ).scalar()
        == "r"
    )


def record(session: Session, market: str, at: datetime, mid: Decimal) -> None:
    """Fold one tick into its minute: the open and close are the earliest and latest tick
    by time, so a tick stored late still lands in the right place."""
    if not maintained(session):
        return
    bucket = minute_of(at)
    if session.get_bind().dialect.name == "postgresql":
        # One statement: concurrent polls of a market cannot lose each other's tick.
        new = pg_insert(PriceCandle).values(
            market=market,
            bucket=bucket,
            open=mid,
            high=mid,
            low=mid,
            close=mid,
            ticks=1,
            opened_at=at,
            closed_at=at,
        )
        old, add = PriceCandle.__table__.c, new.excluded
        session.execute(
            new.on_conflict_do_update(
                index_elements=["market", "bucket"],
                set_={
                    "open": case((add.opened_at < old.opened_at, add.open), else_=old.open),
                    "opened_at": func.least(old.opened_at, add.opened_at),
                    "high": func.greatest(old.high, add.high),
                    "low": func.least(old.low, add.low),
                    "close": case((add.closed_at > old.closed_at, add.close), else_=old.close),
                    "closed_at": func.greatest(old.closed_at, add.closed_at),
                    "ticks": old.ticks + 1,
                },
            )
        )
        return
    # SQLite stores money as text, so compare in Python; the tick written just before
    # already holds the database's write lock, so nobody changes the row in between.
    row = session.get(PriceCandle, (market, bucket))
    if row is None:
        session.add(PriceCandle(market=market, bucket=bucket, **_first(mid, at)))
        session.flush()
        return
    _fold(row, mid, at)


def _first(mid: Decimal, at: datetime) -> dict:
    return {
        "open": mid,
        "high": mid,
        "low": mid,
        "close": mid,
        "ticks": 1,
        "opened_at": at,
        "closed_at": at,
    }


def _fold(row, mid: Decimal, at: datetime) -> None:
    """Add one tick to a stored candle."""
    if at < row.opened_at:
        row.open, row.opened_at = mid, at
    if at > row.closed_at:
        row.close, row.closed_at = mid, at
    row.high, row.low, row.ticks = max(row.high, mid), min(row.low, mid), row.ticks + 1


TICKS = sa.table(
    "price_ticks",
    sa.column("market", sa.String),
    sa.column("time", UTCDateTime),
    sa.column("mid", Money),
)
CANDLES = sa.table(
    "price_candles_1m",
    sa.column("market", sa.String),
    *(sa.column(name, UTCDateTime) for name in ("bucket", "opened_at", "closed_at")),
    *(sa.column(name, Money) for name in ("open", "high", "low", "close")),
    sa.column("ticks", sa.Integer),
)
REBUILD_POSTGRESQL = text("""
    INSERT INTO price_candles_1m
        (market, bucket, open, high, low, close, ticks, opened_at, closed_at)
    SELECT market, date_bin(INTERVAL '1 minute', time, TIMESTAMPTZ '2000-01-01 00:00+00'),
           (array_agg(mid ORDER BY time))[1], max(mid), min(mid),
           (array_agg(mid ORDER BY time DESC))[1], count(*), min(time), max(time)
    FROM price_ticks WHERE mid IS NOT NULL GROUP BY 1, 2
""")


def rebuild(connection: Connection) -> None:
    """Fill the empty table from every stored tick. Written against the tables as migration
    0009 leaves them (no ORM model), since that migration runs it."""
    if connection.dialect.name == "postgresql":
        connection.execute(REBUILD_POSTGRESQL)
        return
    ticks = connection.execute(
        select(TICKS.c.market, TICKS.c.time, TICKS.c.mid)
        .where(TICKS.c.mid.is_not(None))
        .order_by(TICKS.c.market, TICKS.c.time)
    )
    batch: list[dict] = []
    for market, at, mid in ticks:
        last = batch[-1] if batch else None
        if last and last["market"] == market and last["bucket"] == minute_of(at):
            last["high"], last["low"] = max(last["high"], mid), min(last["low"], mid)
            last["close"], last["closed_at"], last["ticks"] = mid, at, last["ticks"] + 1
            continue
        if len(batch) >= 5000:
            connection.execute(CANDLES.insert(), batch[:-1])
            batch = batch[-1:]
        batch.append({"market": market, "bucket": minute_of(at)} | _first(mid, at))
    if batch:
        connection.execute(CANDLES.insert(), batch)
