"""The trade history added up per UTC day, kept exact in the same transaction as every
change to a trade, so the history's totals cost the number of days, not of trades.

Only settled trades (a final status) are rolled up; the few in flight are counted from
the trades themselves when totals are asked (``by_status``, ``by_day``, ``counts``). A
trade's request, its ``queued`` mark and its claim therefore never touch the rollup:
a transition out of an in-flight status is known to have added nothing before.

What a trade adds (its standing: day, strategy, status, user, money, markets) is read
when a transaction first touches it and again at commit; the difference is added to
``trade_days`` just before the commit, keys in sorted order. Rollup rows are therefore
locked only for the instant of the commit (never across a venue call) and always in the
same order (no deadlock between two commits). Touches are found by the session itself:
trades and legs added, changed or deleted through the ORM, and ``trades.transition``
(a Core UPDATE) touches explicitly. Money is added as Decimal on SQLite (text there)
and as NUMERIC on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache

from sqlalchemy import (
    Connection,
    Select,
    Table,
    bindparam,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from backend.models import Opportunity, Trade, TradeDay, TradeLeg
from backend.trading.arbitrage import MAX_LEGS

# Final statuses: a trade never leaves them. The two lists split ``trades.STATUSES``
# exactly (a test checks it); in flight, a trade adds nothing to the rollup.
SETTLED = frozenset(("filled", "rejected", "failed", "cancelled", "unwound", "closed"))
IN_FLIGHT = frozenset(("requested", "queued", "executing", "awaiting_operator", "unwinding",
                       "stranded"))  # fmt: skip
ALL = "*"  # the market of the rows that count each trade once, whatever its legs
FIELDS = ("trades", "realized", "size_usd", "expected_profit_usd", "profit_usd")
KEY = ("day", "market", "strategy", "status", "requested_by")
WATCHED = ("status", "size_usd", "expected_profit_usd", "profit_usd", "strategy",
           "requested_by", "created_at")  # fmt: skip
_TOUCHED = "trade_days.touched"  # session.info: trade id -> standing before (None: new)
_PG = postgresql.dialect()
_KNOWN = "trade_days.known"  # session.info: trade id -> standing at the commit (see known)


@dataclass(frozen=True)
class Standing:
    """What one trade adds to the rollups."""

    at: datetime  # UTC
    strategy: str
    status: str
    requested_by: str
    size_usd: Decimal
    expected_profit_usd: Decimal
    profit_usd: Decimal | None
    markets: frozenset[str]  # its legs' and its planned cycle's (see ``planned_markets``)

    @property
    def day(self) -> date:
        return self.at.date()

    def amounts(self) -> tuple:
        """(trades, realized, size, expected, profit) it adds to each of its keys."""
        profit = self.profit_usd
        realized = profit is not None
        return 1, int(realized), self.size_usd, self.expected_profit_usd, profit or Decimal(0)

    def rows(self, statuses: frozenset[str] = SETTLED) -> dict[tuple, tuple]:
        """Rollup key -> what it adds there: nothing while it is in flight."""
        if self.status not in statuses:
            return {}
        amounts = self.amounts()
        return {
            (self.day, market, self.strategy, self.status, self.requested_by): amounts
            for market in (ALL, *self.markets)
        }


@dataclass(frozen=True)
class Rollup:
    """A table adding up what trades add (``rows``: key -> amounts) under ``key``; every
    rollup in ROLLUPS is kept by ``settle`` and checked by ``drift``."""

    table: Table
    key: tuple[str, ...]
    fields: tuple[str, ...]
    rows: Callable[[Standing], dict[tuple, tuple]]


DAYS = Rollup(TradeDay.__table__, KEY, FIELDS, lambda standing: standing.rows())
ROLLUPS = [DAYS]  # backend.trading.trade_buckets and trade_hours add theirs when imported


_COLUMNS = (Trade.id, Trade.created_at, Trade.strategy, Trade.status, Trade.requested_by,
            Trade.size_usd, Trade.expected_profit_usd, Trade.profit_usd)  # fmt: skip


def planned_markets() -> list:
    """The markets of the cycle a trade was requested for, one expression per leg (NULL
    past its last), to read with the trade's opportunity. A trade refused before any leg
    filled still counts in the markets it meant to trade: a trader looking at one market
    sees its refusals too, and its totals count them."""
    return [Opportunity.legs[n]["market"].as_string() for n in range(MAX_LEGS)]


def on_market(market: str):
    """The condition that a trade counts in ``market``: a leg there, or its planned cycle."""
    return or_(
        exists().where(TradeLeg.trade_id == Trade.id, TradeLeg.market == market),
        exists().where(
            Opportunity.id == Trade.opportunity_id,
            or_(*(planned == market for planned in planned_markets())),
        ),
    )


_PLANNED = select(Opportunity.legs).where(Opportunity.id == Trade.opportunity_id).scalar_subquery()


def standings(session: Session, ids: Iterable[int], lock: bool = False) -> dict[int, Standing]:
    """The standing of each trade that exists; ``lock`` holds the rows (PostgreSQL) so
    nobody changes them between this read and the caller's commit.

    Unlocked on PostgreSQL, the legs' markets come in the same statement. A locked read
    reads them in a statement of their own, after the lock: a leg committed by the
    transaction it waited for is not in the snapshot of the statement that waited."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    markets: dict[int, set[str]] = {}
    with session.no_autoflush:
        if not lock and session.get_bind().dialect.name == "postgresql":
            found = []
            for *row, planned, legs in session.execute(_STANDINGS, {"ids": ids}):
                found.append(row)
                markets[row[0]] = _planned(planned) | set(legs or ())
        else:
            stmt = select(*_COLUMNS, _PLANNED).where(Trade.id.in_(ids))
            if lock:
                stmt = stmt.order_by(Trade.id).with_for_update(of=Trade)
            legs = select(TradeLeg.trade_id, TradeLeg.market).where(TradeLeg.trade_id.in_(ids))
            found = []
            for *row, planned in session.execute(stmt):
                found.append(row)
                markets[row[0]] = _planned(planned)
            for trade_id, market in session.execute(legs.distinct()):
                markets[trade_id].add(market)
    return {
        i: Standing(
            at.replace(tzinfo=at.tzinfo or UTC),
            strategy,
            status,
            user,
            size,
            expected,
            profit,
            frozenset(markets[i]),
        )
        for i, at, strategy, status, user, size, expected, profit in found
    }


def _planned(legs: list | None) -> set[str]:
    return {leg["market"] for leg in legs or ()}


def _standings_with_markets():
    """Trades by id with their planned cycle and their legs' markets as one array
    (PostgreSQL), compiled once."""
    markets = (
        select(func.array_agg(TradeLeg.market.distinct()))
        .where(TradeLeg.trade_id == Trade.id)
        .scalar_subquery()
    )
    return select(*_COLUMNS, _PLANNED, markets).where(
        Trade.id.in_(bindparam("ids", expanding=True))
    )


_STANDINGS = _standings_with_markets()


def touch(session: Session, trade_id: int) -> None:
    """Call before changing a trade outside the ORM (a Core UPDATE): remembers what it
    adds now, once per transaction, and locks it until the commit."""
    session.flush()  # pending ORM changes are remembered first, by the flush hooks
    _remember(session, [trade_id])


def in_flight(session: Session, trade_id: int) -> None:
    """Call once a statement of this transaction has seen the trade in flight and locked
    it (a conditional update out of an in-flight status): it added nothing before, so no
    read is needed to know it; its standing is read at the commit."""
    session.info.setdefault(_TOUCHED, {}).setdefault(trade_id, None)


def known(session: Session, trade_id: int, standing: Standing) -> None:
    """Call when this transaction holds the trade locked, touched it, and wrote all that
    it adds (a paper fill: its status, profit and legs): its standing at the commit is
    ``standing``, no read needed."""
    session.info.setdefault(_KNOWN, {})[trade_id] = standing


def _remember(session: Session, ids: Iterable[int]) -> None:
    touched = session.info.setdefault(_TOUCHED, {})
    new = [i for i in ids if i is not None and i not in touched]
    if new:
        before = standings(session, new, lock=True)
        touched.update({i: before.get(i) for i in new})


def _accumulate(change: dict[tuple, list], rows: dict[tuple, tuple], sign: int = 1) -> None:
    for key, amounts in rows.items():
        total = change.setdefault(key, [type(amount)(0) for amount in amounts])
        for n, amount in enumerate(amounts):
            total[n] += sign * amount


def sorted_rows(rollup: Rollup, change: dict[tuple, list]) -> list[dict]:
    """Rollup rows to add, in key order (the order PostgreSQL locks them in)."""
    return [
        dict(zip(rollup.key + rollup.fields, (*key, *change[key]), strict=True))
        for key in sorted(change)
        if any(change[key])
    ]


def settle(session: Session) -> None:
    """Add what the touched trades changed to every rollup (in the order of ROLLUPS, so
    two commits lock rollup rows in the same order): run just before the commit."""
    session.flush()  # what is still pending is touched by the flush hooks now
    touched = session.info.pop(_TOUCHED, None)
    known = session.info.pop(_KNOWN, {})
    if not touched:
        return
    after = standings(session, [i for i in touched if i not in known])
    after |= {i: standing for i, standing in known.items() if i in touched}
    changes = []
    for rollup in ROLLUPS:
        change: dict[tuple, list] = {}
        for trade_id, before in touched.items():
            if before is not None:
                _accumulate(change, rollup.rows(before), -1)
            if trade_id in after:
                _accumulate(change, rollup.rows(after[trade_id]))
        changes.append(sorted_rows(rollup, change))
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # every rollup in one round trip
        if any(changes):
            params = {
                f"r{n}_{name}": [row[name] for row in rows]
                for n, (rollup, rows) in enumerate(zip(ROLLUPS, changes, strict=True))
                for name in rollup.key + rollup.fields
            }
            connection.execute(_add_all(tuple(ROLLUPS)), params)
        return
    for rollup, rows in zip(ROLLUPS, changes, strict=True):
        add(connection, rollup, rows)


@cache
def _add_all(rollups: tuple[Rollup, ...]):
    """PostgreSQL: ``add`` for every rollup as one statement, the rows of each as one array
    per column, in key order (as ``add`` locks them); compiled once per process. Every
    commit runs this same statement, so rollup rows are locked in one order: no deadlock."""
    parts = []
    for n, rollup in enumerate(rollups):
        table, columns = rollup.table, rollup.key + rollup.fields
        arrays = ", ".join(
            f"CAST(:r{n}_{c} AS {table.c[c].type.compile(dialect=_PG)}[])" for c in columns
        )
        names = ", ".join(columns)
        sums = ", ".join(f"{f} = {table.name}.{f} + excluded.{f}" for f in rollup.fields)
        parts.append(
            f"r{n} AS (INSERT INTO {table.name} ({names}) SELECT {names} "
            f"FROM unnest({arrays}) WITH ORDINALITY AS r({names}, n) ORDER BY n "
            f"ON CONFLICT ({', '.join(rollup.key)}) DO UPDATE SET {sums})"
        )
    return text(f"WITH {', '.join(parts)} SELECT 1")


@cache
def _upsert(rollup: Rollup):
    """One statement for any number of rows, compiled once per process: the rows go as
    parameters, and asking for a column back makes SQLAlchemy send them as one multi-row
    INSERT (see ``db.insert_rows``)."""
    table = rollup.table
    stmt = pg_insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(rollup.key),
        set_={f: table.c[f] + getattr(stmt.excluded, f) for f in rollup.fields},
    )
    return stmt.returning(table.c[rollup.fields[0]])


def add(connection: Connection, rollup: Rollup, rows: list[dict]) -> None:
    """Add each row's amounts to the rollup row of its key (created at zero if new)."""
    if not rows:
        return
    table = rollup.table
    if connection.dialect.name == "postgresql":  # NUMERIC adds exactly, in one statement
        connection.execute(_upsert(rollup), rows)
        return
    for row in rows:  # SQLite keeps money as text and holds the database's write lock
        where = [table.c[k] == row[k] for k in rollup.key]
        fields = rollup.fields
        old = connection.execute(select(*(table.c[f] for f in fields)).where(*where)).first()
        if old is None:
            connection.execute(insert(table).values(row))
        else:
            values = {f: old[n] + row[f] for n, f in enumerate(fields)}
            connection.execute(table.update().where(*where).values(values))


def rebuild(connection: Connection, statuses: frozenset[str] = SETTLED) -> None:
    """Add the rollup up again from the trades themselves (the migrations' backfill; also
    the repair should trades ever be written behind the application's back). ``statuses``:
    the ones rolled up (every status before migration 0012, for its downgrade)."""
    table = TradeDay.__table__
    connection.execute(delete(table))
    if connection.dialect.name == "postgresql":
        day = func.date(func.timezone("UTC", Trade.created_at))
        insert_sums(connection, table, "day", day, statuses)
        return
    rollup = Rollup(DAYS.table, KEY, FIELDS, lambda standing: standing.rows(statuses))
    add(connection, rollup, sorted_rows(rollup, expected(connection, [rollup])[0]))


def insert_sums(connection: Connection, table: Table, name: str, when, statuses) -> None:
    """Fill a rollup keyed (market, ``name``, strategy, status, user) with the sums of
    the trades of ``statuses`` per ``when`` (an expression of their time), in SQL
    (PostgreSQL): "all markets" first, then each leg market, in key order."""
    keys = (when, Trade.strategy, Trade.status, Trade.requested_by)
    amounts = (
        func.count(),
        func.count(Trade.profit_usd),
        func.sum(Trade.size_usd),
        func.sum(Trade.expected_profit_usd),
        func.coalesce(func.sum(Trade.profit_usd), 0),
    )
    legs = market_pairs()
    columns = ["market", name, "strategy", "status", "requested_by", *FIELDS]
    settled = Trade.status.in_(sorted(statuses))
    every = select(literal(ALL), *keys, *amounts).where(settled).group_by(*keys)
    per_market = (
        select(legs.c.market, *keys, *amounts)
        .join_from(Trade, legs, legs.c.trade_id == Trade.id)
        .where(settled)
        .group_by(legs.c.market, *keys)
    )
    for query in (every.order_by(*keys), per_market.order_by(legs.c.market, *keys)):
        connection.execute(insert(table).from_select(columns, query))


def market_pairs():
    """(trade_id, market) once for every market a trade counts in: its legs' and its
    planned cycle's (the rollups' rebuild in SQL)."""
    planned = [
        select(Trade.id.label("trade_id"), market.label("market"))
        .join_from(Trade, Opportunity, Opportunity.id == Trade.opportunity_id)
        .where(market.is_not(None))
        for market in planned_markets()
    ]
    return union(select(TradeLeg.trade_id, TradeLeg.market), *planned).subquery()


def expected(connection: Connection, rollups: list[Rollup]) -> list[dict[tuple, list]]:
    """What each rollup adds up to, read from every trade in Python (SQLite's rebuild,
    and ``drift``): key -> amounts."""
    changes: list[dict[tuple, list]] = [{} for _ in rollups]
    with Session(bind=connection) as session:
        ids = list(session.scalars(select(Trade.id).order_by(Trade.id)))
        for start in range(0, len(ids), 500):
            for standing in standings(session, ids[start : start + 500]).values():
                for rollup, change in zip(rollups, changes, strict=True):
                    _accumulate(change, rollup.rows(standing))
    return changes


def drift(session: Session) -> list[str]:
    """Every row of every rollup that differs from the trades it adds up, one sentence
    each; empty when the history's totals and curves are exact (``ledger check`` runs
    it; ``rebuild`` and ``trade_buckets.rebuild`` repair)."""
    problems = []
    wanted = expected(session.connection(), ROLLUPS)
    for rollup, want_all in zip(ROLLUPS, wanted, strict=True):
        fields = rollup.fields
        stored = {
            tuple(row[k] for k in rollup.key): [row[f] for f in fields]
            for row in session.execute(select(rollup.table)).mappings()
            if any(row[f] for f in fields)
        }
        for key in sorted(set(stored) | {k for k, v in want_all.items() if any(v)}):
            have, want = stored.get(key), want_all.get(key)
            if have != want:
                where = ", ".join(f"{k}={v}" for k, v in zip(rollup.key, key, strict=True))
                problems.append(
                    f"{rollup.table.name} {where}: holds {have}, the trades add up to {want}"
                )
    return problems


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    """Trades and legs about to be changed or deleted through the ORM: what they add now."""
    ids = []
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, Trade) and (obj in session.deleted or _changed(obj)):
            ids.append(obj.id)
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, TradeLeg):
            ids.append(obj.trade_id)
    if ids:
        _remember(session, ids)


def _changed(trade: Trade) -> bool:
    attrs = inspect(trade).attrs
    return any(attrs[name].history.has_changes() for name in WATCHED)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    """New trades added nothing before."""
    touched = session.info.setdefault(_TOUCHED, {})
    for obj in session.new:
        if isinstance(obj, Trade):
            touched.setdefault(obj.id, None)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    settle(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    """A rollback forgets what was touched (a savepoint's does not: the rest stands)."""
    if transaction.parent is None:
        session.info.pop(_TOUCHED, None)
        session.info.pop(_KNOWN, None)


def _within(flt, first: date | None, until: date | None) -> list:
    """Conditions on the rollup rows of the days [first, until) of the filter's market."""
    within = [TradeDay.market == (flt.market or ALL)]
    if first is not None:
        within.append(TradeDay.day >= first)
    if until is not None:
        within.append(TradeDay.day < until)
    return within


def _where(stmt, flt, first: date | None, until: date | None):
    """Rollup rows of the days [first, until) matching the filter's market, strategy,
    status and user (all of them when it has none)."""
    return matching(stmt.where(*_within(flt, first, until)), TradeDay.__table__, flt)


def matching(stmt, table: Table, flt):
    """``stmt`` kept to the rows of ``table`` (trades or a rollup) whose strategy, status
    and user are the filter's (any, where it has none)."""
    for name, value in (
        ("strategy", flt.strategy),
        ("status", flt.status),
        ("requested_by", flt.user),
    ):
        if value is not None:
            stmt = stmt.where(table.c[name] == value)
    return stmt


def in_flight_where(stmt, flt, first: date | None, until: date | None):
    """The trades in flight the filter holds over the days (or moments) [first, until)
    (None: the filter's status is a settled one), found through the index on status: few."""
    if flt.status is not None and flt.status not in IN_FLIGHT:
        return None
    stmt = stmt.where(Trade.status.in_(sorted(IN_FLIGHT)))
    if first is not None:
        stmt = stmt.where(Trade.created_at >= _moment(first))
    if until is not None:
        stmt = stmt.where(Trade.created_at < _moment(until))
    stmt = matching(stmt, Trade.__table__, flt)
    if flt.market is not None:
        stmt = stmt.where(on_market(flt.market))
    return stmt


def _moment(when: date) -> datetime:
    """A moment as it is; a day as its UTC midnight."""
    return when if isinstance(when, datetime) else datetime.combine(when, time(), UTC)


def _in_flight(session: Session, flt, first: date | None, until: date | None) -> list[Standing]:
    stmt = in_flight_where(select(Trade.id), flt, first, until)
    return [] if stmt is None else list(standings(session, session.scalars(stmt)).values())


def by_status(session: Session, flt, first: date | None, until: date | None) -> dict[str, list]:
    """Status -> [trades, realized, size, expected, profit] over the days [first, until):
    settled trades from the rollup, those in flight from the trades."""
    totals: dict[str, list] = {}
    for standing in _in_flight(session, flt, first, until):
        total = totals.setdefault(standing.status, [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        for n, amount in enumerate(standing.amounts()):
            total[n] += amount
    if session.get_bind().dialect.name == "sqlite":  # money is text: add it in Python
        stmt = _where(select(TradeDay.status, *(TradeDay.__table__.c[f] for f in FIELDS)),
                      flt, first, until)  # fmt: skip
    else:
        sums = (func.sum(TradeDay.__table__.c[f]) for f in FIELDS)
        stmt = _where(select(TradeDay.status, *sums), flt, first, until).group_by(TradeDay.status)
    for status, *amounts in session.execute(stmt):
        total = totals.setdefault(status, [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        for n, amount in enumerate(amounts):
            total[n] += amount
    return totals


def by_day(session: Session, flt, first: date | None, until: date | None) -> dict[date, list]:
    """Day -> [trades, realized trades, realized profit] over the days [first, until):
    settled trades from the rollup, those in flight from the trades."""
    daily: dict[date, list] = {}
    for standing in _in_flight(session, flt, first, until):
        trades, realized, _, _, profit = standing.amounts()
        total = daily.setdefault(standing.day, [0, 0, Decimal(0)])
        total[0], total[1], total[2] = total[0] + trades, total[1] + realized, total[2] + profit
    columns = (TradeDay.trades, TradeDay.realized, TradeDay.profit_usd)
    if session.get_bind().dialect.name == "sqlite":
        stmt = _where(select(TradeDay.day, *columns), flt, first, until)
    else:
        sums = (func.sum(c) for c in columns)
        stmt = _where(select(TradeDay.day, *sums), flt, first, until).group_by(TradeDay.day)
    for day, *amounts in session.execute(stmt):
        total = daily.setdefault(day, [0, 0, Decimal(0)])
        for n, amount in enumerate(amounts):
            total[n] += amount
    return daily


def locating(dialect: str, flt, first: date | None, until: date | None, by: str | None,
             descending: bool, offset) -> Select:  # fmt: skip
    """The statement finding the (value of ``by``, day) that holds row ``offset`` of the
    history in the order (``by``, day) over the days [first, until) (``by`` None: the day
    alone), in the database's own order of ``by`` (the trades' indexes'), and how many
    trades come before it: columns ``by``, ``day``, ``before``, no row beyond the end.
    Settled trades from the rollup, those in flight from the trades, added up by a
    running sum; ``offset`` may be a bound parameter (``trade_hours.locate`` builds on
    it, on the database ``dialect``)."""
    at = Trade.created_at
    if dialect == "postgresql":
        at = func.timezone("UTC", at)
    names = [by, "day"] if by else ["day"]
    kept = [TradeDay.__table__.c[name].label(name) for name in names]
    live = [getattr(Trade, name).label(name) for name in names[:-1]]
    live.append(func.date(at, type_=TradeDay.day.type).label("day"))
    parts = [_where(select(*kept, TradeDay.trades.label("n")), flt, first, until)]
    in_flight = in_flight_where(select(*live, literal(1).label("n")), flt, first, until)
    if in_flight is not None:
        parts.append(in_flight)
    both = union_all(*parts).subquery()
    grouped = select(*(both.c[n] for n in names), func.sum(both.c.n).label("n"))
    grouped = grouped.group_by(*(both.c[n] for n in names)).subquery()
    order = [grouped.c[n].desc() if descending else grouped.c[n] for n in names]
    before = func.sum(grouped.c.n).over(order_by=order) - grouped.c.n
    running = select(*(grouped.c[n] for n in names), grouped.c.n, before.label("before"))
    running = running.subquery()
    stmt = select(*(running.c[n] for n in names), running.c.before)
    stmt = stmt.where(running.c.before + running.c.n > offset)
    order = [running.c[n].desc() if descending else running.c[n] for n in names]
    return stmt.order_by(*order).limit(1)
