"""The trade history added up per UTC hour (trade_hours): every field of the daily rollup,
kept exact in the same commits (it is one of ``trade_days.ROLLUPS``). The partial days at
the edges of a range add up their whole hours here and read only the trades of the
partial hours at its very edges, and a jump into one day of the grid skips that day's
whole hours too, so neither walks a whole day of trades.

Keyed as trade_days with the hour (UTC epoch second // 3600) for the day; settled trades
only, those in flight are counted from the trades when asked, as the daily rollup does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, Integer, case, cast, delete, func, literal, select, union_all
from sqlalchemy.orm import Session

from backend.models import Trade, TradeHour
from backend.trading import trade_days

WIDTH = 3600  # seconds in an hour
KEY = ("market", "hour", "strategy", "status", "requested_by")


def hour_of(at: datetime) -> int:
    """The hour a moment falls in (UTC epoch seconds // WIDTH)."""
    return int(at.timestamp()) // WIDTH


def start_of(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * WIDTH, UTC)


def _rows(standing: trade_days.Standing) -> dict[tuple, tuple]:
    """Rollup key -> what a settled trade adds there; nothing while it is in flight."""
    if standing.status not in trade_days.SETTLED:
        return {}
    amounts, hour = standing.amounts(), hour_of(standing.at)
    return {
        (market, hour, standing.strategy, standing.status, standing.requested_by): amounts
        for market in (trade_days.ALL, *standing.markets)
    }


HOURS = trade_days.Rollup(TradeHour.__table__, KEY, trade_days.FIELDS, _rows)
trade_days.ROLLUPS.append(HOURS)


def rebuild(connection: Connection) -> None:
    """Add the hours up again from the trades (migration 0015's backfill; the repair
    when ``drift`` reports a difference)."""
    table = TradeHour.__table__
    connection.execute(delete(table))
    if connection.dialect.name != "postgresql":
        rows = trade_days.expected(connection, [HOURS])[0]
        trade_days.add(connection, HOURS, trade_days.sorted_rows(HOURS, rows))
        return
    hour = cast(func.floor(func.extract("epoch", Trade.created_at) / WIDTH), Integer)
    trade_days.insert_sums(connection, table, "hour", hour, trade_days.SETTLED)


def _within(flt, first: int, until: int) -> list:
    return [
        TradeHour.market == (flt.market or trade_days.ALL),
        TradeHour.hour >= first,
        TradeHour.hour < until,
    ]


def sums(session: Session, flt, first: int, until: int) -> dict[str, list]:
    """Status -> [trades, realized, size, expected, profit] of a bounded range holding the
    whole hours [first, until), in one statement: those hours' settled trades from the
    rollup, their trades in flight and the partial hours at the range's edges (under an
    hour each) from the trades."""
    realized = case((Trade.profit_usd.is_(None), 0), else_=1)
    money = (Trade.size_usd, Trade.expected_profit_usd, func.coalesce(Trade.profit_usd, 0))
    trade = select(Trade.status, literal(1), realized, *money)
    kept = select(TradeHour.status, *(TradeHour.__table__.c[f] for f in trade_days.FIELDS))
    kept = trade_days.matching(kept.where(*_within(flt, first, until)), TradeHour.__table__, flt)
    parts = [kept]
    for edge in (replace(flt, end=start_of(first)), replace(flt, start=start_of(until))):
        if edge.start < edge.end:
            parts.append(edge.where(trade))
    live = trade_days.in_flight_where(trade, flt, start_of(first), start_of(until))
    if live is not None:
        parts.append(live)
    both = union_all(*parts).subquery()
    columns = list(both.c)
    sqlite = session.get_bind().dialect.name == "sqlite"  # money is text: add it in Python
    stmt = select(*columns) if sqlite else select(columns[0], *map(func.sum, columns[1:]))
    found: dict[str, list] = {}
    for status, *amounts in session.execute(stmt if sqlite else stmt.group_by(columns[0])):
        total = found.setdefault(status, [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        for n, amount in enumerate(amounts):
            total[n] += amount
    return found


def counts(session: Session, flt, first: int, until: int, descending: bool) -> list:
    """(hour, trades) over the hours [first, until) that hold one, in time order (newest
    first when ``descending``): settled trades from the rollup, in flight from the
    trades, in one statement."""
    if session.get_bind().dialect.name == "postgresql":
        hour = cast(func.floor(func.extract("epoch", Trade.created_at) / WIDTH), Integer)
    else:  # SQLite keeps UTC times as text
        hour = cast(func.strftime("%s", Trade.created_at), Integer) // WIDTH
    kept = select(TradeHour.hour.label("h"), TradeHour.trades.label("n"))
    parts = [trade_days.matching(kept.where(*_within(flt, first, until)), TradeHour.__table__, flt)]
    live = trade_days.in_flight_where(
        select(hour.label("h"), literal(1).label("n")), flt, start_of(first), start_of(until)
    )
    if live is not None:
        parts.append(live)
    both = union_all(*parts).subquery()
    stmt = select(both.c.h, func.sum(both.c.n)).group_by(both.c.h)
    order = both.c.h.desc() if descending else both.c.h
    return [(h, n) for h, n in session.execute(stmt.order_by(order)) if n]
