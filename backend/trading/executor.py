"""Execution of a stored trade: re-price on the latest books less what earlier fills
took, check risk and balances, fill the legs and post them to the ledger. On paper (the
default) every leg fills on the books in one transaction; with ``TRADING_MODE=live``,
``live.advance`` takes the legs one by one to Binance or an operator's ticket.

Runs inside the Celery trading task. Claiming is its own committed step and carries a
lease: a second delivery while the claim holds does nothing; a redelivery after the
claimant died (lease lapsed) takes the trade over. The fill itself is one transaction
that starts by renewing the claim and ends with a status change conditional on it, so a
trade is filled once or not at all.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from sqlalchemy import bindparam, func, select, text, true
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from backend import db
from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.market.book import Book
from backend.models import Setting, Trade
from backend.ops import metrics
from backend.resilience import Unavailable
from backend.trading import controls, ledger, legs, liquidity, risk, trade_days, trades, unwind
from backend.trading.arbitrage import strategy_of
from backend.trading.execution import Leg, LegFill, profit_usd, run_cycle
from backend.trading.quotes import fees_from
from backend.trading.venues import LegVenue

log = logging.getLogger(__name__)


class LostClaim(Exception):
    """The trade stopped being this attempt's to run; its transaction must not commit."""


@dataclass(frozen=True)
class Outcome:
    status: str
    strategy: str = "unknown"
    profit: Decimal | None = None


@dataclass(frozen=True)
class Assessment:
    """The trade priced on the books as they are, and every reason to refuse it."""

    books: dict[str, Book]
    fills: list[LegFill]
    profit: Decimal | None
    lines: list[ledger.Line]
    reasons: list[str]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(
    sessions: sessionmaker[Session],
    cache: Cache,
    settings: Settings,
    trade_id: int,
    clock: Callable[[], datetime],
    owner: str | None = None,
    spot: Callable[[], LegVenue] | None = None,
) -> str:
    """Run one trade to a final status and return it; "executing" (or "unwinding") means
    another live attempt holds it, or a live order's answer is still awaited (the caller
    may try again once the lease could have lapsed); "awaiting_operator" that a ticket is
    open; "stranded" that its unwind waits for books it can be priced on.
    ``spot`` builds the live spot venue (Binance, from the settings, by default)."""
    owner = owner or default_owner()
    now = clock()
    with ExitStack() as held:
        # the claim and a paper fill run on one pooled connection: one checkout, one ping
        session = held.enter_context(db.one_connection(sessions))
        with session.begin():  # commits without waiting for the disk (see trades.claim)
            claimed = trades.claim(session, trade_id, owner, now, settings.trade_lease_seconds)
            if claimed is None:
                return _status(session, trade_id)
        try:
            if settings.trading_mode == "live" or claimed == unwind.UNWINDING:
                held.close()  # leg by leg: a live run checks connections out as it goes
                outcome = _live(sessions, cache, settings, trade_id, clock, owner, spot)
            else:
                with session.begin():
                    outcome = _fill(session, settings, trade_id, clock, owner)
        except LostClaim:
            with sessions() as session:
                return _status(session, trade_id)
        except (OperationalError, PoolTimeout, Unavailable):
            raise  # the database, not the trade: nothing was committed; the task retries it
        except Exception as exc:
            log.exception("trade %s failed", trade_id)
            with sessions.begin() as session:
                moved = trades.transition(
                    session,
                    trade_id,
                    ("executing",),
                    "failed",
                    clock(),
                    f"executor error: {exc}",
                    actor="worker",
                    owner=owner,
                    error=str(exc)[:500],
                )
            if not moved:
                with sessions() as session:
                    return _status(session, trade_id)
            outcome = Outcome("failed")
    if outcome.status in (*trades.RUNNING, "awaiting_operator", unwind.STRANDED):
        return outcome.status  # not final: counted when the trade ends
    metrics.TRADES_EXECUTED.labels(
        strategy=outcome.strategy, mode=settings.trading_mode, status=outcome.status
    ).inc()
    if outcome.status == "filled":
        metrics.TRADE_PROFIT.labels(strategy=outcome.strategy).observe(float(outcome.profit))
    return outcome.status


def _status(session: Session, trade_id: int) -> str:
    return session.scalar(select(Trade.status).where(Trade.id == trade_id)) or "missing"


def _midnight(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(), tzinfo=UTC)


def today(session: Session, now: datetime) -> risk.Day:
    """Notional and realized profit of the trades filled (or unwound, or closed holding:
    their loss is the day's too) since midnight UTC."""
    filled_today = (_trade.status.in_(DAY_STATUSES), _trade.updated_at >= _midnight(now))
    if session.get_bind().dialect.name == "postgresql":  # summed there: one row back
        size, profit = session.execute(select(*_DAY_SUMS).where(*filled_today)).one()
        return risk.Day(size, profit)
    rows = session.execute(select(_trade.size_usd, _trade.profit_usd).where(*filled_today)).all()
    return risk.Day(
        sum((size for size, _ in rows), Decimal("0")),
        sum((profit or Decimal("0") for _, profit in rows), Decimal("0")),
    )


DAY_STATUSES = ("filled", unwind.UNWOUND, unwind.CLOSED)
# on the table, not the ORM entity: a statement of columns needs no ORM set-up per call
_trade = Trade.__table__.c
_DAY_SUMS = (
    func.coalesce(func.sum(_trade.size_usd), Decimal("0")),
    func.coalesce(func.sum(_trade.profit_usd), Decimal("0")),
)


def _after_lock_statement():
    """PostgreSQL: what a fill reads once its books are locked, in one round trip: the
    controls (as two arrays), today's sums, and the takes recorded against the books'
    markets. Built once per process, on the tables."""
    setting = Setting.__table__.c
    stored = select(
        func.array_agg(setting.key).label("keys"), func.array_agg(setting.value).label("values")
    ).subquery()
    day = select(*(s.label(n) for s, n in zip(_DAY_SUMS, ("size", "profit"), strict=True)))
    midnight = bindparam("midnight")
    day = day.where(db.among(_trade.status, DAY_STATUSES), _trade.updated_at >= midnight)
    day = day.subquery()
    head = select(*stored.c, *day.c).select_from(stored.join(day, true())).subquery()
    return liquidity.with_takes(head)


_AFTER_LOCK = _after_lock_statement()


def after_lock(
    session: Session, settings: Settings, books: dict[str, Book], now: datetime
) -> tuple[dict[str, Book], controls.Controls, risk.Day]:
    """The locked books less what fills took from them, the controls, and today's sums:
    read after the books' lock, so a fill on the same books that committed first counts."""
    if session.get_bind().dialect.name != "postgresql":
        return (
            liquidity.remaining(session, books),
            controls.load(session, settings),
            today(session, now),
        )
    params = liquidity.takes_params(books, now) | {"midnight": _midnight(now)}
    (keys, values, size, profit), books = liquidity.split(
        session.execute(_AFTER_LOCK, params).all(), books
    )
    limits = controls.of(settings, zip(keys or (), values or (), strict=True))
    return books, limits, risk.Day(size, profit)


def assess(
    session: Session, settings: Settings, size: Decimal, cycle: tuple[Leg, ...], now
) -> Assessment:
    """Price the whole cycle at the trade's ``size`` (USD) and check limits and balances
    (the books' rows and the accounts about to pay stay locked until the transaction ends)."""
    markets = sorted({leg.market for leg in cycle})
    books, failing = latest.locked(session, markets)
    stale = sorted(latest.untrusted(books, failing, markets, now, settings.stale_after_seconds))
    books, limits, day = after_lock(session, settings, books, now)
    fills, profit = [], None
    if not stale:
        fills = run_cycle(cycle, books, size, fees_from(settings), settings.paper_slippage)
        if len(fills) == len(cycle) and fills[-1].complete:
            profit = profit_usd(fills)
    reasons = risk.refusals(limits, size, profit, stale, day)
    lines = ledger.fill_lines(fills) if profit is not None else []
    if not reasons and lines:
        paying = {line.account for line in lines if line.amount < 0}
        ledger.lock(session, paying)
        held = ledger.balances(session, paying)
        reasons = risk.overdrafts(limits, held, [(ln.account, ln.amount) for ln in lines])
    return Assessment(books, fills, profit, lines, reasons)


def _live(sessions, cache, settings, trade_id, clock, owner, spot) -> Outcome:
    from backend.trading import live
    from backend.trading.venues.live_spot import LiveSpotVenue

    def reasons(session, trade, cycle, now) -> list[str]:
        return assess(session, settings, trade.size_usd, cycle, now).reasons

    status, strategy, profit = live.advance(
        sessions, cache, settings, trade_id, clock, owner,
        assess=reasons, spot=spot or (lambda: LiveSpotVenue(settings, cache=cache)),
    )  # fmt: skip
    return Outcome(status, strategy, profit)


def _fill(session: Session, settings: Settings, trade_id: int, clock, owner: str) -> Outcome:
    now = clock()
    renewed = trades.renew_planned(session, trade_id, owner, now, settings.trade_lease_seconds)
    if renewed is None:
        raise LostClaim(trade_id)
    trade_days.in_flight(session, trade_id)  # renewed: running, locked, adding nothing yet
    size = renewed.size_usd
    cycle = tuple(Leg.from_dict(d) for d in renewed.planned)
    strategy = strategy_of(cycle)
    found = assess(session, settings, size, cycle, now)
    if found.reasons:
        detail = "; ".join(found.reasons)
        if not trades.transition(
            session, trade_id, ("executing",), "rejected", now, detail,
            actor="worker", owner=owner, error=detail,
        ):  # fmt: skip
            raise LostClaim(trade_id)
        return Outcome("rejected", strategy)
    record(session, trade_id, found, now)
    profit = found.profit
    if not trades.transition(
        session, trade_id, ("executing",), "filled", now, f"paper fill, profit {profit:.2f} USD",
        actor="worker", owner=owner, profit_usd=profit, lease_until=None,
    ):  # fmt: skip
        raise LostClaim(trade_id)
    # locked since the renew, and every leg written here: the daily totals need not read it
    at = renewed.created_at
    trade_days.known(session, trade_id, trade_days.Standing(
        at.replace(tzinfo=at.tzinfo or UTC), renewed.strategy, "filled", renewed.requested_by,
        size, renewed.expected_profit_usd, profit, frozenset(f.leg.market for f in found.fills),
    ))  # fmt: skip
    return Outcome("filled", strategy, profit)


def record(session: Session, trade_id: int, found: Assessment, now: datetime) -> None:
    """Write a paper fill: its legs, what it took from the books, its ledger entry."""
    rows = [legs.row(trade_id, seq, f, now) for seq, f in enumerate(found.fills, 1)]
    if session.get_bind().dialect.name != "postgresql":
        legs.write(session, trade_id, rows)
        liquidity.record(session, trade_id, found.fills, found.books, now)
        ledger.post(session, "fill", found.lines, actor="worker", now=now, trade_id=trade_id)
        return
    trade_days.touch(session, trade_id)  # a leg adds its market to what the trade counts in
    takes = liquidity.rows(trade_id, found.fills, found.books)
    params = ledger.post_params("fill", found.lines, "worker", now, trade_id, None)
    params |= {f"leg_{k}": [r[k] for r in rows] for k in _LEG_COLUMNS}
    params |= {f"take_{k}": [r[k] for r in takes] for k in _TAKE_COLUMNS}
    session.execute(_RECORD, params)


_LEG_COLUMNS = {
    "seq": "integer", "market": "varchar", "side": "varchar", "method": "varchar",
    "price": "numeric", "sell_currency": "varchar", "sell_amount": "numeric",
    "buy_currency": "varchar", "buy_amount": "numeric", "fee": "numeric",
    "filled_at": "timestamptz",
}  # fmt: skip
_TAKE_COLUMNS = {
    "market": "varchar", "side": "varchar", "ad_no": "varchar", "fetched_at": "timestamptz",
    "quantity": "numeric",
}  # fmt: skip


def _insert_unnest(table: str, columns: dict[str, str], prefix: str) -> str:
    """``INSERT INTO table`` of the trade's rows given as one array per column, in order."""
    names = ", ".join(columns)
    arrays = ", ".join(f"CAST(:{prefix}_{c} AS {t}[])" for c, t in columns.items())
    return (
        f"INSERT INTO {table} (trade_id, {names}) SELECT :trade_id, {names} "
        f"FROM unnest({arrays}) WITH ORDINALITY AS r({names}, n) ORDER BY n"
    )


# PostgreSQL: the legs, the takes and the ledger entry of a paper fill in one statement,
# one round trip instead of three, compiled once per process (the rows go as arrays)
_RECORD = text(
    f"WITH legs AS ({_insert_unnest('trade_legs', _LEG_COLUMNS, 'leg')}), "
    f"takes AS ({_insert_unnest('liquidity_takes', _TAKE_COLUMNS, 'take')}), "
    f"{ledger.POST_CTES} SELECT id FROM entry"
).bindparams(*ledger.POST_TYPES)
