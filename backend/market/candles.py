"""One-minute candles of the mid price for the charts, kept per minute as ticks arrive.

A chart reads ``price_candles_1m``: one row per market and minute, so 24 hours cost 1,440
rows however many ticks the history holds. On TimescaleDB that name is a real-time
continuous aggregate over the ticks; elsewhere (plain PostgreSQL, SQLite) it is a table
that ingest updates with every tick (``record``), and ``rebuild`` fills from the ticks
already stored (migration 0009, bulk loads).

Longer ranges are drawn in coarser candles (``step_for``), folded from the one-minute
rows when read, so a chart never carries more than ``MAX_CANDLES``: a figure's cost (rows
read, Decimals made, JSON sent) follows its candles, and 1,440 of them made the 24-hour
chart the slowest callback of the desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import case, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
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


MINUTE = timedelta(minutes=1)
# Candle lengths a chart may use, each a whole number of minutes that divides a day, so
# candles start on the clock (xx:00, xx:05, ...) in UTC whatever the range.
STEPS = tuple(timedelta(minutes=m) for m in (1, 2, 5, 15, 30, 60))
MAX_CANDLES = 300
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # a UTC midnight: where every step's grid starts


def step_for(span: timedelta) -> timedelta:
    """The finest candle that draws ``span`` in at most ``MAX_CANDLES`` (15 min and 1 h:
    1 min; 6 h: 2 min; 24 h: 5 min)."""
    return next((s for s in STEPS if span / s <= MAX_CANDLES), STEPS[-1])


def minute_candles(session: Session, market: str, since: datetime) -> list[Candle]:
    """The whole minutes that start at or after ``since``, oldest first."""
    return candles(session, market, since, MINUTE)


def start(since: datetime, step: timedelta) -> datetime:
    """The first candle ``candles`` returns for ``since``: since, rounded up onto the grid
    (so two moments with the same start read the same candles)."""
    return ORIGIN + -((ORIGIN - since) // step) * step


def candles(session: Session, market: str, since: datetime, step: timedelta) -> list[Candle]:
    """The ``step``-long candles (on the UTC grid of that length) that start at or after
    ``since``, oldest first, folded from the one-minute rows: open the first minute's,
    close the last's, high the highest, low the lowest. Every candle but the newest is
    whole, since none starts before ``since``."""
    c = PriceCandle
    first = start(since, step)
    # TimescaleDB's aggregate counts empty books too: a minute that opened with one has
    # no open price, and is left out rather than drawn half
    where = (c.market == market, c.bucket >= first, c.open.is_not(None))
    if step == MINUTE:
        rows = session.execute(
            select(c.bucket, c.open, c.high, c.low, c.close).where(*where).order_by(c.bucket)
        )
        return [Candle(*row) for row in rows]
    if session.get_bind().dialect.name != "postgresql":
        return _fold_minutes(session, where, step)
    # first_value/last_value over each bucket's minutes, one sort in all: 3 ms for a day of
    # minutes at 5 min, where array_agg(... ORDER BY) sorted every bucket apart (9 ms)
    minutes = (
        select(
            func.date_bin(step, c.bucket, ORIGIN).label("candle"),
            c.bucket,
            c.open,
            c.high,
            c.low,
            c.close,
        )
        .where(*where)
        .subquery()
    )
    m = minutes.c
    w = {"partition_by": m.candle, "order_by": m.bucket, "rows": (None, None)}
    rows = session.execute(
        select(
            sa.type_coerce(m.candle, UTCDateTime),
            sa.type_coerce(func.first_value(m.open).over(**w), Money),
            sa.type_coerce(func.max(m.high).over(**w), Money),
            sa.type_coerce(func.min(m.low).over(**w), Money),
            sa.type_coerce(func.last_value(m.close).over(**w), Money),
        )
        .ext(distinct_on(m.candle))
        .order_by(m.candle)
    )
    return [Candle(*row) for row in rows]


def _fold_minutes(session: Session, where: tuple, step: timedelta) -> list[Candle]:
    """SQLite keeps money as text, where max("99") > max("100"): fold in Python."""
    c, out = PriceCandle, []
    minutes = session.execute(
        select(c.bucket, c.open, c.high, c.low, c.close).where(*where).order_by(c.bucket)
    )
    for at, open_, high, low, close in minutes:
        bucket = at - (at - ORIGIN) % step
        if out and out[-1].bucket == bucket:
            last = out[-1]
            out[-1] = Candle(bucket, last.open, max(last.high, high), min(last.low, low), close)
        else:
            out.append(Candle(bucket, open_, high, low, close))
    return out


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
        session.execute(_UPSERT, {"market": market, "bucket": bucket} | _first(mid, at))
        return
    # SQLite stores money as text, so compare in Python; the tick written just before
    # already holds the database's write lock, so nobody changes the row in between.
    row = session.get(PriceCandle, (market, bucket))
    if row is None:
        session.add(PriceCandle(market=market, bucket=bucket, **_first(mid, at)))
        session.flush()
        return
    _fold(row, mid, at)


def _upsert():
    """The tick's upsert, built once per process (building it cost ~1 ms per tick): the
    tick goes as parameters."""
    new = pg_insert(PriceCandle)
    old, add = PriceCandle.__table__.c, new.excluded
    return new.on_conflict_do_update(
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


_UPSERT = _upsert()


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
