"""The whole trade history, searched on the server: filters, sorted pages, totals, the
cumulative P&L and a streamed CSV export.

Nothing here loads the history into memory. A page seeks on an indexed order from the
last key of the page before it when the grid scrolls on, or counts an offset on the
index when it jumps (whole days, users, strategies or statuses before it, counted by
the daily rollup, are skipped first). Totals and the P&L curve add up the daily rollup
(backend.trading.trade_days) for whole days, the hourly one (backend.trading.trade_hours)
for the whole hours of partial days, a curve under two weeks the 5-minute one
(backend.trading.trade_buckets), and the trades only for partial hours and buckets
(PostgreSQL sums NUMERIC exactly; SQLite keeps money as text, so there the sums are
done in Python with Decimal), and the export walks a server-side cursor in batches.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Float, Select, and_, cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from backend.models import Opportunity, Posting, Trade, TradeLeg
from backend.trading import trade_buckets, trade_days, trade_hours
from backend.trading.refusals import N_
from backend.trading.trades import STATUSES

MARKET = re.compile(r"(p2p|spot):[A-Z0-9]{2,10}/[A-Z0-9]{2,10}")
WORD = re.compile(r"[a-z_]{1,20}")
USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")  # as backend.web.users.NAME
# The orders with an index (migrations 0006, 0008): any page of a million trades stays cheap.
SORTABLE = {
    "id": Trade.id,
    "created_at": Trade.created_at,
    "requested_by": Trade.requested_by,  # migration 0011: (column, created_at, id) for these
    "strategy": Trade.strategy,
    "status": Trade.status,
    "size_usd": Trade.size_usd,
    "profit_usd": Trade.profit_usd,
}
# Sorted by one of these few values, the trades of a value follow in time order: a page is
# a walk of the (column, created_at, id) index, and a jump skips whole days of the group.
GROUPED = {"requested_by": "user", "strategy": "strategy", "status": "status"}  # -> filter
MONEY = {"size_usd", "profit_usd"}
NULLABLE = {"profit_usd"}
MAX_PAGE = 500
MAX_OFFSET = 10_000_000
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
PNL_POINTS = 400  # at most this many buckets on the cumulative P&L curve
BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)  # seconds
EXPORT_BATCH = 2000
PRICE_PLACES = Decimal("1e-8")


class FilterError(ValueError):
    """A search parameter no form would send; the message says what is expected, in
    English (the API); a page shows the catalog's ``template`` filled with ``values``."""

    def __init__(self, template: str, **values: object):
        super().__init__(template.format(**values))
        self.template, self.values = template, values


@dataclass(frozen=True)
class TradeFilter:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive; a range ending before it starts holds nothing
    market: str | None = None  # any leg, or the planned cycle, on this market
    strategy: str | None = None
    status: str | None = None
    user: str | None = None

    @classmethod
    def parse(cls, args: Mapping[str, object]) -> TradeFilter:
        """From query parameters ``from``, ``to`` (ISO dates or UTC datetimes; a date
        ``to`` includes that whole day), ``market``, ``strategy``, ``status``, ``user``."""
        start, end = _when(args.get("from"), "from"), _when(args.get("to"), "to")
        market = _text(args.get("market"), "market")
        if market and not MARKET.fullmatch(market):
            raise FilterError(N_("market must look like p2p:USDT/VES or spot:BTC/USDT"))
        strategy = _text(args.get("strategy"), "strategy")
        status = _text(args.get("status"), "status")
        for name, value in (("strategy", strategy), ("status", status)):
            if value and not WORD.fullmatch(value):
                raise FilterError(
                    N_("{name} is a lowercase word, e.g. filled or triangle"), name=name
                )
        if status and status not in STATUSES:
            raise FilterError(N_("status must be one of: {statuses}"), statuses=", ".join(STATUSES))
        user = _text(args.get("user"), "user")
        if user and not USER.fullmatch(user):
            raise FilterError(N_("user is a login name: 2 to 64 of A-Z a-z 0-9 . _ @ -"))
        return cls(start, end, market, strategy, status, user)

    def query_string(self) -> dict[str, str]:
        """The parameters that rebuild this filter (a CSV link carries them)."""
        values = {
            "from": self.start and self.start.isoformat(),
            "to": self.end and self.end.isoformat(),
            "market": self.market,
            "strategy": self.strategy,
            "status": self.status,
            "user": self.user,
        }
        return {k: v for k, v in values.items() if v}

    def where(self, stmt: Select) -> Select:
        conditions = []
        if self.start:
            conditions.append(Trade.created_at >= self.start)
        if self.end:
            conditions.append(Trade.created_at < self.end)
        if self.strategy:
            conditions.append(Trade.strategy == self.strategy)
        if self.status:
            conditions.append(Trade.status == self.status)
        if self.user:
            conditions.append(Trade.requested_by == self.user)
        if self.market:
            conditions.append(trade_days.on_market(self.market))
        return stmt.where(and_(*conditions)) if conditions else stmt


def _text(value: object, name: str) -> str | None:
    """None when absent; given empty, it is a mistake (leave a parameter out instead)."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise FilterError(
            N_("{name} must be a short text; leave it out to not filter on it"), name=name
        )
    return value


def _when(value: object, name: str) -> datetime | None:
    """A bound as given, kept within 1970 to 9000: that selects the same trades, and the
    day and hour arithmetic on it cannot step past year 9999."""
    text = _text(value, name)
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = min(date.fromisoformat(text), LATEST.date())
            moment = datetime.combine(day + timedelta(days=name == "to"), time(), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise FilterError(
            N_("{name} must be a date like 2026-11-28 or 2026-11-28T14:30Z"), name=name
        ) from None
    return min(max(moment, EARLIEST), LATEST)


@dataclass(frozen=True)
class Page:
    sort: str = "created_at"  # newest first; ids follow time only roughly
    descending: bool = True
    offset: int = 0
    limit: int = 100

    @classmethod
    def parse(cls, args: Mapping[str, object], default_limit: int = 100) -> Page:
        sort = _text(args.get("sort"), "sort") or "created_at"
        if sort not in SORTABLE:
            raise FilterError(N_("sort must be one of: {columns}"), columns=", ".join(SORTABLE))
        order = _text(args.get("order"), "order") or "desc"
        if order not in ("asc", "desc"):
            raise FilterError(N_("order must be asc or desc"))
        offset = _integer(args.get("offset"), "offset", 0, MAX_OFFSET, 0)
        limit = _integer(args.get("limit"), "limit", 1, MAX_PAGE, default_limit)
        return cls(sort, order == "desc", offset, limit)

    def key(self) -> tuple[str, ...]:
        """The columns of the order, the last ones breaking ties: every row has its place."""
        return (self.sort, "created_at", "id") if self.sort in GROUPED else (self.sort, "id")

    def order_by(self, sqlite: bool = False) -> tuple:
        """SQLite keeps money as text, where "1000" < "300": there amounts sort as REAL."""
        column, tiebreak = SORTABLE[self.sort], Trade.id
        if sqlite and self.sort in MONEY:
            column = cast(column, Float)
        if self.sort not in NULLABLE:  # NULLS clauses would keep PostgreSQL off the index
            columns = (column, *(SORTABLE[name] for name in self.key()[1:]))
            return tuple(c.desc() for c in columns) if self.descending else columns
        if self.descending:
            return (column.desc().nulls_last(), tiebreak.desc())
        return (column.asc().nulls_first(), tiebreak.asc())


def _integer(value: object, name: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise FilterError(
            N_("{name} must be a whole number from {low} to {high}"), name=name, low=low, high=high
        )
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not low <= int(text) <= high:
        raise FilterError(
            N_("{name} must be a whole number from {low} to {high}"), name=name, low=low, high=high
        )
    return int(text)


def page(session: Session, flt: TradeFilter, pg: Page) -> list[Trade]:
    """One sorted page of the filtered history, legs loaded in one extra query."""
    stmt = flt.where(select(Trade)).order_by(*pg.order_by(_sqlite(session)))
    stmt = stmt.offset(pg.offset).limit(pg.limit)
    return list(session.scalars(stmt))


@dataclass
class Totals:
    count: int = 0
    size_usd: Decimal = Decimal(0)
    expected_profit_usd: Decimal = Decimal(0)
    profit_usd: Decimal = Decimal(0)  # realized, over the trades that have one
    by_status: dict[str, int] = field(default_factory=dict)
    # the trades with a realized profit (filled, unwound, closed): what they were sized
    # and expected to make, to set beside what they made; a rejection expected something
    realized: int = 0
    realized_size_usd: Decimal = Decimal(0)
    realized_expected_usd: Decimal = Decimal(0)


MONEY_TOTALS = ("size_usd", "expected_profit_usd", "profit_usd", "realized_size_usd",
                "realized_expected_usd")  # fmt: skip


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def sums(session: Session, flt: TradeFilter) -> Totals:
    """Count and sums of the filtered set added up from the trades themselves: exact, and
    as slow as the set is large (``totals`` uses it only for the partial hours at the
    edges of its range, the rest it takes whole from the rollups)."""
    return _added(Totals(), _status_sums(session, flt))


def _status_sums(session: Session, flt: TradeFilter) -> dict[str, list]:
    """Status -> [trades, realized, size, expected, profit] of the filtered trades, added
    up from the trades (the shape of ``trade_days.by_status``)."""
    if _sqlite(session):  # money is text there: add it up exactly in Python
        stmt = flt.where(
            select(Trade.status, Trade.size_usd, Trade.expected_profit_usd, Trade.profit_usd)
        )
        rows = (
            (status, 1, int(profit is not None), size, expected, profit)
            for status, size, expected, profit in session.execute(stmt)
        )
    else:
        stmt = flt.where(
            select(
                Trade.status,
                func.count(),
                func.count(Trade.profit_usd),
                func.sum(Trade.size_usd),
                func.sum(Trade.expected_profit_usd),
                func.sum(Trade.profit_usd),
            )
        ).group_by(Trade.status)
        rows = session.execute(stmt)
    found: dict[str, list] = {}
    for status, *amounts in rows:
        total = found.setdefault(status, [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        for n, amount in enumerate(amounts):
            total[n] += amount or 0
    return found


def _added(result: Totals, found: dict[str, list]) -> Totals:
    """``result`` with the status sums ``found`` added to it."""
    for status, (count, realized, size, expected, profit) in found.items():
        if count:
            result.by_status[status] = result.by_status.get(status, 0) + count
            result.count += count
            result.size_usd += size
            result.expected_profit_usd += expected
            result.profit_usd += profit
        if realized:  # a status's trades all have a realized profit, or none has
            result.realized += realized
            result.realized_size_usd += size
            result.realized_expected_usd += expected
    return result


def totals(session: Session, flt: TradeFilter) -> Totals:
    """Count and sums of the filtered set, per status and overall: the whole UTC days of
    the range from the daily rollup, the whole hours of the partial days at its edges
    from the hourly one (both as exact as the trades), the rest from the trades."""
    days, edges = _split(flt)
    result = Totals()
    for edge in edges:
        for found in _partial_day(session, edge):
            _added(result, found)
    if days is not None:
        _added(result, trade_days.by_status(session, flt, *days))
    return result


def _partial_day(session: Session, flt: TradeFilter) -> list[dict[str, list]]:
    """Status sums of a bounded range under a day: its whole hours from trade_hours, the
    partial hours at its edges (under an hour each) from the trades, in one statement."""
    first, until = trade_hours.hour_of(flt.start), trade_hours.hour_of(flt.end)
    first += trade_hours.start_of(first) < flt.start  # whole hours only
    if first >= until:
        return [_status_sums(session, flt)]
    return [trade_hours.sums(session, flt, first, until)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _split(flt: TradeFilter) -> tuple[tuple[date | None, date | None] | None, list[TradeFilter]]:
    """The filter's range as whole UTC days [first, until) (None: no whole day; an open
    end stays None) and filters for the partial days before and after them."""
    first = until = None
    if flt.start is not None:
        first = flt.start.date() + timedelta(days=flt.start != _midnight(flt.start.date()))
    if flt.end is not None:
        until = flt.end.date()
    if first is not None and until is not None and first >= until:
        return None, [flt]
    edges = []
    if first is not None and flt.start < _midnight(first):
        edges.append(replace(flt, end=_midnight(first)))
    if until is not None and flt.end > _midnight(until):
        edges.append(replace(flt, start=_midnight(until)))
    return (first, until), edges


DAILY_CURVE_DAYS = 14  # a longer realized span is drawn in days, from the rollup


def cumulative_pnl(session: Session, flt: TradeFilter) -> list[tuple[datetime, Decimal]]:
    """Realized profit summed over time buckets (at most PNL_POINTS), then accumulated:
    (end of bucket, profit to date). Over DAILY_CURVE_DAYS or more the buckets are whole
    days or longer, added from the daily rollup; a shorter span is bucketed finer from
    the 5-minute rollup (``_pnl_from_buckets``), straight away when the range itself
    covers fewer than DAILY_CURVE_DAYS dates (its realized span cannot be longer)."""
    if flt.start is not None and flt.end is not None:
        dates = ((flt.end - _INSTANT).date() - flt.start.date()).days + 1
        if dates < DAILY_CURVE_DAYS:
            return _pnl_from_buckets(session, flt)
    days, edges = _split(flt)  # whole days: an open or long range has some
    daily = trade_days.by_day(session, flt, *days)
    for edge in edges:  # a partial day each: it starts on that day
        total = daily.setdefault(edge.start.date(), [0, 0, Decimal(0)])
        for found in _partial_day(session, edge):
            for _, realized, _, _, profit in found.values():
                total[1] += realized
                total[2] += profit
    realized_days = sorted(d for d, (_, n, _) in daily.items() if n)
    if not realized_days:
        return []
    first, last = realized_days[0], realized_days[-1]
    if (last - first).days + 1 < DAILY_CURVE_DAYS:
        start = _midnight(first) if flt.start is None else max(flt.start, _midnight(first))
        end = _midnight(last + timedelta(days=1))
        return _pnl_from_buckets(session, replace(flt, start=start, end=min(end, flt.end or end)))
    span = ((last - first).days + 1) * 86400
    width = next((b for b in BUCKETS if b >= 86400 and span / b < PNL_POINTS), BUCKETS[-1])
    sums: dict[int, Decimal] = {}
    for day in realized_days:
        key = int(_midnight(day).timestamp()) // width
        sums[key] = sums.get(key, Decimal(0)) + daily[day][2]
    return _accumulated(sums, width)


def _accumulated(sums: dict[int, Decimal], width: int) -> list[tuple[datetime, Decimal]]:
    total, curve = Decimal(0), []
    for key in sorted(sums):
        total += sums[key]
        curve.append((datetime.fromtimestamp((key + 1) * width, UTC), total))
    return curve


def _pnl_from_buckets(session: Session, flt: TradeFilter) -> list[tuple[datetime, Decimal]]:
    """The curve of a bounded range: its whole 5-minute buckets from trade_buckets, the
    partial ones at its edges (under 5 minutes each) from the trades. The width is the
    one the trades' own first and last realized moments call for (read from the trades
    of the first and last bucket only); a span too short for 5-minute buckets (under
    PNL_POINTS minutes) is bucketed from the trades of that span."""
    first = -(-int(flt.start.timestamp()) // trade_buckets.WIDTH)  # whole buckets only
    until = int(flt.end.timestamp()) // trade_buckets.WIDTH
    if first >= until:
        return _pnl_from_trades(session, flt)
    found = trade_buckets.by_bucket(session, flt, first, until)
    points: list[tuple[datetime, Decimal]] = []  # (moment, profit) of the edges' trades
    for edge in (
        replace(flt, end=trade_buckets.start_of(first)),
        replace(flt, start=trade_buckets.start_of(until)),
    ):
        if edge.start < edge.end:
            realized = edge.where(select(Trade.created_at, Trade.profit_usd))
            rows = session.execute(realized.where(Trade.profit_usd.is_not(None)))
            points += [(_utc(at), profit) for at, profit in rows]
    moments = [at for at, _ in points]
    if found:
        moments += _realized_bounds(session, flt, min(found), max(found))
    if not moments:
        return []
    start, last = min(moments), max(moments)
    span = (last - start).total_seconds()
    width = next((b for b in BUCKETS if span / b < PNL_POINTS), BUCKETS[-1])
    if width < trade_buckets.WIDTH:  # under PNL_POINTS minutes: finer than the rollup
        return _pnl_from_trades(session, replace(flt, start=start, end=last + _INSTANT))
    sums: dict[int, Decimal] = {}
    for bucket, (_, profit) in found.items():
        key = bucket * trade_buckets.WIDTH // width
        sums[key] = sums.get(key, Decimal(0)) + profit
    for at, profit in points:
        key = int(at.timestamp()) // width
        sums[key] = sums.get(key, Decimal(0)) + profit
    return _accumulated(sums, width)


_INSTANT = timedelta(microseconds=1)  # the finest time the databases keep


def _realized_span(session: Session, flt: TradeFilter) -> tuple:
    """(first, last) moment of a realized trade the filter holds (None, None: none)."""
    span = session.execute(
        flt.where(select(func.min(Trade.created_at), func.max(Trade.created_at))).where(
            Trade.profit_usd.is_not(None)
        )
    ).one()
    return tuple(None if t is None else _utc(t) for t in span)


def _realized_bounds(session: Session, flt: TradeFilter, first: int, last: int) -> list:
    """The first realized moment in bucket ``first`` and the last in bucket ``last`` (both
    hold one), in one statement that reads the trades of those two buckets only. A trade
    changed between the two reads may leave one out (read committed): it is skipped."""
    ends = []
    for bucket, edge in ((first, func.min), (last, func.max)):
        inside = replace(
            flt, start=trade_buckets.start_of(bucket), end=trade_buckets.start_of(bucket + 1)
        )
        realized = inside.where(select(edge(Trade.created_at))).where(Trade.profit_usd.is_not(None))
        ends.append(realized.scalar_subquery())
    return [_utc(t) for t in session.execute(select(*ends)).one() if t is not None]


def _pnl_from_trades(session: Session, flt: TradeFilter) -> list[tuple[datetime, Decimal]]:
    """The curve added up from the trades themselves, in the finest buckets that fit."""
    realized = flt.where(select(Trade.created_at, Trade.profit_usd)).where(
        Trade.profit_usd.is_not(None)
    )
    first, last = _realized_span(session, flt)
    if first is None:
        return []
    width = next(
        (b for b in BUCKETS if (last - first).total_seconds() / b < PNL_POINTS), BUCKETS[-1]
    )
    sums: dict[int, Decimal] = {}
    if _sqlite(session):
        for at, profit in session.execute(realized):
            key = int(_utc(at).timestamp()) // width
            sums[key] = sums.get(key, Decimal(0)) + profit
    else:
        bucket = func.floor(func.extract("epoch", Trade.created_at) / width)
        stmt = flt.where(select(bucket, func.sum(Trade.profit_usd))).where(
            Trade.profit_usd.is_not(None)
        )
        sums = {int(b): p for b, p in session.execute(stmt.group_by(bucket))}
    return _accumulated(sums, width)


SUMMARY_TTL = 15.0  # seconds a filter's totals and curve are shared by every page


@dataclass(frozen=True)
class Summary:
    totals: Totals
    pnl: list[tuple[datetime, Decimal]]


def summary(session: Session, cache, flt: TradeFilter, ttl: float = SUMMARY_TTL) -> Summary:
    """Totals and the P&L curve of ``flt``, kept in the cache for ``ttl`` seconds: over a
    million trades they take a second to add up, and every open Trades page asks again
    every few seconds."""
    key = "trades:summary:" + json.dumps(flt.query_string(), sort_keys=True)
    kept = cache.get(key)
    if kept is not None:
        data = json.loads(kept)
        sums = Totals(
            **{k: data[k] for k in ("count", "by_status", "realized")},
            **{k: Decimal(data[k]) for k in MONEY_TOTALS},
        )
        curve = [(datetime.fromisoformat(at), Decimal(v)) for at, v in data["pnl"]]
        return Summary(sums, curve)
    found = Summary(totals(session, flt), cumulative_pnl(session, flt))
    sums = found.totals
    data = {
        "count": sums.count,
        "by_status": sums.by_status,
        "realized": sums.realized,
        **{k: str(getattr(sums, k)) for k in MONEY_TOTALS},
        "pnl": [(at.isoformat(), str(v)) for at, v in found.pnl],
    }
    cache.set(key, json.dumps(data), ttl)
    return found


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _route(session: Session):
    """The trade's markets in leg order, ``p2p:USDT/VES > spot:BTC/USDT``, as one column;
    a trade with no leg shows the cycle it was requested for."""
    if _sqlite(session):
        ordered = (
            select(TradeLeg.market)
            .where(TradeLeg.trade_id == Trade.id)
            .order_by(TradeLeg.seq)
            .correlate(Trade)
            .subquery()
        )
        legs = select(func.group_concat(ordered.c.market, " > ")).scalar_subquery()
    else:
        legs = (
            select(
                func.string_agg(TradeLeg.market, aggregate_order_by(literal(" > "), TradeLeg.seq))
            )
            .where(TradeLeg.trade_id == Trade.id)
            .scalar_subquery()
        )
    first, *rest = trade_days.planned_markets()
    for market in rest:  # NULL past the cycle's last leg: || gives NULL, coalesce drops it
        first = first + func.coalesce(" > " + market, "")
    planned = select(first).where(Opportunity.id == Trade.opportunity_id).scalar_subquery()
    return func.coalesce(legs, planned)


def _flat(session: Session) -> tuple:
    """One row per trade, legs summarised as the route: what the grid and the CSV show."""
    return (
        Trade.id,
        Trade.created_at,
        Trade.requested_by,
        Trade.strategy,
        Trade.mode,
        Trade.status,
        Trade.size_usd,
        Trade.expected_profit_usd,
        Trade.profit_usd,
        _route(session).label("route"),
        Trade.error,
    )


def page_rows(session: Session, flt: TradeFilter, pg: Page, after: tuple | None = None) -> list:
    """One sorted page as flat rows (no ORM objects, legs as the route): the grid's
    block, in one query. The page's ids are chosen first, so rows skipped by the offset
    never have their route built. With ``after`` (the sort value and id of the row just
    before the page) the page seeks there on the index instead of counting ``offset``
    rows: a block half a million rows deep costs what the first does. ``after`` holds
    the values of ``pg.key()``."""
    order = pg.order_by(_sqlite(session))
    ids = flt.where(select(Trade.id)).order_by(*order).limit(pg.limit)
    if after is None:
        bound, offset = _skip(session, flt, pg)
        ids = ids.where(bound).offset(offset) if bound is not None else ids.offset(offset)
    else:
        columns, values = [SORTABLE[name] for name in pg.key()], list(after)
        if _sqlite(session) and pg.sort in MONEY:
            columns[0], values[0] = cast(columns[0], Float), float(values[0])
        key = tuple_(*columns)
        last = tuple_(*(literal(v, c.type) for c, v in zip(columns, values, strict=True)))
        ids = ids.where(key < last if pg.descending else key > last)
    chosen = ids.subquery()
    stmt = select(*_flat(session)).join(chosen, chosen.c.id == Trade.id).order_by(*order)
    return list(session.execute(stmt))


SKIP_FROM = 5000  # an offset this deep skips whole groups counted by the rollups


def _skip(session: Session, flt: TradeFilter, pg: Page) -> tuple[object, int]:
    """A jump deep into the history: the whole groups before the wanted row (days in time
    order; users, strategies or statuses in theirs, then the whole days inside the
    wanted one's, then, unless fewer than SKIP_FROM rows are left, the whole hours of that
    day) are counted from the daily and hourly rollups, exact like the trades, so the
    index walks one hour's trades or SKIP_FROM at most instead of ``offset`` of them.
    (condition or None, offset left)."""
    days, edges = _split(flt)
    grouped = pg.sort in GROUPED
    if not (grouped or pg.sort == "created_at") or pg.offset < SKIP_FROM or days is None or edges:
        return None, pg.offset
    by = pg.sort if grouped else None
    found = trade_hours.locate(session, flt, *days, by, pg.descending, pg.offset)
    if found is None:
        return None, pg.offset  # beyond the end: nothing there either way
    *value, day, skipped, hour, before_hour = found
    group = replace(flt, **{GROUPED[pg.sort]: value[0]}) if grouped else flt
    if pg.offset - skipped < SKIP_FROM:  # walking the rest costs less than its hours' edge
        edge = _midnight(day + timedelta(days=1) if pg.descending else day)
        return _from(group, pg, edge), pg.offset - skipped
    if hour is None:  # the day's hours hold fewer trades than the day: count it all
        return None, pg.offset
    edge = trade_hours.start_of(hour + 1 if pg.descending else hour)
    return _from(group, pg, edge), pg.offset - before_hour


def _from(flt: TradeFilter, pg: Page, edge: datetime):
    """The rows of the page's order from the moment ``edge`` on (in a group's order, from
    that moment of ``flt``'s group on)."""
    key, bound = Trade.created_at, literal(edge, Trade.created_at.type)
    if pg.sort in GROUPED:
        column = SORTABLE[pg.sort]
        key = tuple_(column, key)
        bound = tuple_(literal(getattr(flt, GROUPED[pg.sort]), column.type), bound)
    return key < bound if pg.descending else key >= bound


SEEK_TTL = 600.0  # seconds the last key of a served block is kept for the next one


def _seek_key(flt: TradeFilter, pg: Page, offset: int) -> str:
    place = {"filter": flt.query_string(), "sort": pg.sort, "desc": pg.descending, "at": offset}
    return "trades:seek:" + json.dumps(place, sort_keys=True)


def block(session: Session, cache, flt: TradeFilter, pg: Page) -> list:
    """``page_rows`` for a grid that asks for blocks mostly in order: the last key of
    every block served is kept (per filter and sort), so the next block seeks from it;
    a jump (no block ended there) counts the offset on the index instead (see
    ``_skip``). Profit sorts (NULLs in the order) always count."""
    after = None
    if pg.offset and pg.sort not in NULLABLE:
        kept = cache.get(_seek_key(flt, pg, pg.offset))
        if kept is not None:
            after = tuple(map(_sort_value, pg.key(), json.loads(kept)))
    rows = page_rows(session, flt, pg, after)
    if rows and pg.sort not in NULLABLE:
        last = [_json(getattr(rows[-1], name)) for name in pg.key()]
        cache.set(_seek_key(flt, pg, pg.offset + len(rows)), json.dumps(last), SEEK_TTL)
    return rows


def _json(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _sort_value(sort: str, value):
    if sort == "created_at":
        return datetime.fromisoformat(value)
    return Decimal(value) if sort in MONEY else value


def _money(value: Decimal | None) -> str | None:
    """``1000``, ``-0.4``: no exponent, no trailing zeros (PostgreSQL keeps 18 places)."""
    return None if value is None else format(value.normalize(), "f")


def _cell(text: str | None) -> str | None:
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is quoted."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text


EXPORT_COLUMNS = (
    "id",
    "requested_at",
    "requested_by",
    "strategy",
    "mode",
    "status",
    "size_usd",
    "expected_profit_usd",
    "profit_usd",
    "route",
    "error",
)


def export_csv(
    session: Session,
    flt: TradeFilter,
    pg: Page,
    headers: Sequence[str],
    batch: int = EXPORT_BATCH,
) -> Iterator[bytes]:
    """The filtered set as CSV (UTF-8), in batches from a server-side cursor, so memory
    stays flat whatever the size. ``headers`` are the column titles, translated."""
    if len(headers) != len(EXPORT_COLUMNS):
        raise ValueError(f"{len(EXPORT_COLUMNS)} headers expected")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    stmt = flt.where(select(*_flat(session))).order_by(*pg.order_by(_sqlite(session)))
    result = session.execute(stmt.execution_options(yield_per=batch))
    for rows in result.partitions():
        writer.writerows(
            (
                i,
                _utc(at).isoformat(),
                _cell(user),
                strategy,
                mode,
                status,
                *(_money(m) for m in money),
                _cell(route),
                _cell(error),
            )
            for i, at, user, strategy, mode, status, *money, route, error in rows
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


def price_after_slippage(leg: TradeLeg) -> Decimal | None:
    """What the leg really paid per unit of asset: the book's walk price moved by the
    slippage haircut (fees apart), from the amounts that changed hands."""
    gross = leg.buy_amount + leg.fee
    if leg.side == "BUY":  # paid quote currency, received the asset
        price = leg.sell_amount / gross if gross else None
    else:
        price = gross / leg.sell_amount if leg.sell_amount else None
    return None if price is None else price.quantize(PRICE_PLACES)


def postings(session: Session, trade_id: int) -> list[Posting]:
    """The trade's ledger postings in the order they were written (leg by leg)."""
    return list(
        session.scalars(select(Posting).where(Posting.trade_id == trade_id).order_by(Posting.id))
    )
