"""Realized profit per 5 minutes (trade_buckets), kept exact like the daily rollup and
in the same commits (it is one of ``trade_days.ROLLUPS``), so a P&L curve shorter than
DAILY_CURVE_DAYS costs the number of its 5-minute buckets, not of its trades.

Keyed as trade_days (market, strategy, status, user), settled trades with a profit only;
trades in flight are added from the trades when a curve is asked, as the totals do.
Every width of the curve from 5 minutes up is a whole number of these buckets, all
counted from the same epoch, so re-bucketing them is exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, Integer, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from backend.models import Trade, TradeBucket
from backend.trading import trade_days

WIDTH = 300  # seconds in a bucket
KEY = ("market", "bucket", "strategy", "status", "requested_by")
FIELDS = ("realized", "profit_usd")


def bucket_of(at: datetime) -> int:
    """The bucket a moment falls in (UTC epoch seconds // WIDTH)."""
    return int(at.timestamp()) // WIDTH


def start_of(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * WIDTH, UTC)


def _rows(standing: trade_days.Standing) -> dict[tuple, tuple]:
    """Rollup key -> (1, profit) for a settled trade with a profit; else nothing."""
    if standing.status not in trade_days.SETTLED or standing.profit_usd is None:
        return {}
    bucket = bucket_of(standing.at)
    return {
        (market, bucket, standing.strategy, standing.status, standing.requested_by): (
            1,
            standing.profit_usd,
        )
        for market in (trade_days.ALL, *standing.markets)
    }


BUCKETS = trade_days.Rollup(TradeBucket.__table__, KEY, FIELDS, _rows)
trade_days.ROLLUPS.append(BUCKETS)


def rebuild(connection: Connection) -> None:
    """Add the buckets up again from the trades (migration 0014's backfill; the repair
    when ``drift`` reports a difference)."""
    table = TradeBucket.__table__
    connection.execute(delete(table))
    if connection.dialect.name != "postgresql":
        rows = trade_days.expected(connection, [BUCKETS])[0]
        trade_days.add(connection, BUCKETS, trade_days.sorted_rows(BUCKETS, rows))
        return
    bucket = cast(func.floor(func.extract("epoch", Trade.created_at) / WIDTH), Integer)
    keys = (bucket, Trade.strategy, Trade.status, Trade.requested_by)
    amounts = (func.count(), func.sum(Trade.profit_usd))
    realized = (
        Trade.status.in_(sorted(trade_days.SETTLED)),
        Trade.profit_usd.is_not(None),
    )
    legs = trade_days.market_pairs()
    every = select(literal(trade_days.ALL), *keys, *amounts).where(*realized)
    per_market = (
        select(legs.c.market, *keys, *amounts)
        .join_from(Trade, legs, legs.c.trade_id == Trade.id)
        .where(*realized)
        .group_by(legs.c.market)
        .order_by(legs.c.market)
    )
    for query in (every, per_market):  # in key order: a curve's rows lie together on disk
        ordered = query.group_by(*keys).order_by(*keys)
        connection.execute(insert(table).from_select(list(KEY + FIELDS), ordered))


def by_bucket(session: Session, flt, first: int, until: int) -> dict[int, list]:
    """Bucket -> [realized trades, their profit] over the buckets [first, until) that
    hold a realized trade: settled trades from the rollup, those in flight from the
    trades. ``flt``'s own range is not looked at (the caller's buckets lie inside it)."""
    found: dict[int, list] = {}
    live = trade_days.in_flight_where(
        select(Trade.created_at, Trade.profit_usd), flt, start_of(first), start_of(until)
    )
    if live is not None:
        for at, profit in session.execute(live.where(Trade.profit_usd.is_not(None))):
            total = found.setdefault(bucket_of(at.replace(tzinfo=at.tzinfo or UTC)), [0, 0])
            total[0], total[1] = total[0] + 1, total[1] + profit
    columns = (TradeBucket.realized, TradeBucket.profit_usd)
    sqlite = session.get_bind().dialect.name == "sqlite"  # money is text: add it in Python
    stmt = select(TradeBucket.bucket, *(columns if sqlite else map(func.sum, columns)))
    stmt = stmt.where(
        TradeBucket.market == (flt.market or trade_days.ALL),
        TradeBucket.bucket >= first,
        TradeBucket.bucket < until,
    )
    stmt = trade_days.matching(stmt, TradeBucket.__table__, flt)
    if not sqlite:
        stmt = stmt.group_by(TradeBucket.bucket)
    for bucket, realized, profit in session.execute(stmt):
        total = found.setdefault(bucket, [0, Decimal(0)])
        total[0], total[1] = total[0] + realized, total[1] + profit
    return {bucket: total for bucket, total in found.items() if total[0]}
