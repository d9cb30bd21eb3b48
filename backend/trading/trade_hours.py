"""The trade history added up per UTC hour (trade_hours): every field of the daily rollup,
kept exact in the same commits (it is one of ``trade_days.ROLLUPS``). The partial days at
the edges of a range add up their whole hours here and read only the trades of the
partial hours at its very edges, and a jump into one day of the grid skips that day's
whole hours too, so neither walks a whole day of trades.

Keyed as trade_days with the hour (UTC epoch second // 3600) for the day; settled trades
only, those in flight are counted from the trades when asked, as the daily rollup does.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    true,
    union_all,
)
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


def _within(flt, first, until) -> list:
    """Conditions on the rollup rows of the filter's market over the hours [first, until):
    numbers, or expressions when only the database knows them."""
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


def locate(session: Session, flt, first: date | None, until: date | None, by: str | None,
           descending: bool, offset: int) -> tuple | None:  # fmt: skip
    """Where row ``offset`` of the history falls: its day (and value of ``by``) and how
    many trades come before that day (``trade_days.locating``), then its hour inside
    that day (and group) and how many trades come before that hour: (*values, day,
    before, hour, before the hour); hour and before the hour None when the day's hours
    hold fewer trades than the day (the rollups disagree); None beyond the end. One
    statement, so a jump costs one round trip: the day's settled trades from this
    rollup, those in flight from the trades."""
    stmt = _locating(session.get_bind().dialect.name, flt, first, until, by, descending)
    row = session.execute(stmt, {"offset": offset}).first()
    if row is None:
        return None
    *values, before, hour, before_hour = row
    return (*values, int(before), hour, None if before_hour is None else int(before_hour))


@functools.lru_cache(maxsize=64)
def _locating(dialect: str, flt, first: date | None, until: date | None, by: str | None,
              descending: bool) -> Select:  # fmt: skip
    """``locate``'s statement, built once per filter and order with the offset its one
    parameter: building it costs SQLAlchemy about what the database takes to run it
    (1.2 ms each at 10^6 trades), and a scrollbar dragged down a history jumps again and
    again with the same filter."""
    offset = bindparam("offset", type_=Integer)
    day = trade_days.locating(dialect, flt, first, until, by, descending, offset).cte("day")
    if dialect == "postgresql":
        hour = cast(func.floor(func.extract("epoch", Trade.created_at) / WIDTH), Integer)
        first_hour = cast(func.extract("epoch", day.c.day) / WIDTH, Integer)
    else:  # SQLite keeps UTC times and days as text
        hour = cast(func.strftime("%s", Trade.created_at), Integer) // WIDTH
        first_hour = cast(func.strftime("%s", day.c.day), Integer) // WIDTH
    kept = select(TradeHour.hour.label("h"), TradeHour.trades.label("n"))
    kept = kept.where(*_within(flt, first_hour, first_hour + 24))
    live = select(hour.label("h"), literal(1).label("n"))
    live = live.where(hour >= first_hour, hour < first_hour + 24)
    if by is not None:  # within the group the day was found in
        kept = kept.where(TradeHour.__table__.c[by] == day.c[by])
        live = live.where(Trade.__table__.c[by] == day.c[by])
    parts = [trade_days.matching(kept, TradeHour.__table__, flt)]
    live = trade_days.in_flight_where(live, flt, None, None)
    if live is not None:
        parts.append(live)
    both = union_all(*parts).subquery()
    grouped = select(both.c.h, func.sum(both.c.n).label("n")).group_by(both.c.h).subquery()
    order = grouped.c.h.desc() if descending else grouped.c.h
    before = func.sum(grouped.c.n).over(order_by=order) - grouped.c.n
    running = select(grouped.c.h, grouped.c.n, before.label("before")).subquery()
    found = (
        select(running.c.h, (day.c.before + running.c.before).label("before"))
        .where(running.c.before + running.c.n > offset - day.c.before)  # joins the two
        .order_by(running.c.h.desc() if descending else running.c.h)
        .limit(1)
        .subquery()
    )
    return select(*day.c, found.c.h, found.c.before).select_from(day.outerjoin(found, true()))
