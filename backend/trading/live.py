"""Live execution: leg by leg, each at its venue, each leg committed as soon as it is done.

A live leg cannot share one transaction with the others: a spot leg is a call to
Binance, a P2P leg waits for a person. So the executor goes on from the first leg not
stored yet. Before the first leg the trade is checked exactly as on paper (profit
re-priced on the books, limits, balances). A spot leg is sent outside any transaction,
with the claim's lease stretched over the call; its client order id makes a later
attempt find the order instead of placing it again, and no order leaves once the lease
would no longer cover its recvWindow (throttled or slow answers can outlast it): a later
attempt could then have looked the order up before it landed, and placed it too. The
fill is stored with its postings in a short transaction that first renews the claim. A
P2P leg opens an operator ticket and the trade waits in ``awaiting_operator``; confirming
the ticket stores that leg and requests the trade again, which comes back here for the
next leg. A leg refused after others filled unwinds them (``unwind``): the reverse legs
run here the same way, on paper in paper mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.market.book import Market, Venue
from backend.models import Opportunity, Trade, TradeLeg
from backend.trading import controls, legs, liquidity, refusals, tickets, trades, unwind
from backend.trading.arbitrage import strategy_of
from backend.trading.execution import Fees, Leg, LegFill, run_cycle, with_transfer
from backend.trading.executor import LostClaim
from backend.trading.ledger import plain
from backend.trading.quotes import fees_from
from backend.trading.venues import LegOrder, LegRefused, LegVenue
from backend.trading.venues.live_spot import OrderInDoubt, SpotUnavailable, in_flight_seconds
from backend.trading.venues.operator import OperatorVenue
from backend.trading.venues.paper import PaperVenue

log = logging.getLogger(__name__)

Assess = Callable[[Session, Trade, tuple[Leg, ...], datetime], list[str]]


def advance(
    sessions: sessionmaker[Session],
    cache: Cache,
    settings: Settings,
    trade_id: int,
    clock: Callable[[], datetime],
    owner: str,
    *,
    assess: Assess,
    spot: Callable[[], LegVenue],
) -> tuple[str, str, Decimal | None]:
    """Run the trade's next legs, or its unwind's; (status, strategy, profit) where it
    stopped."""
    fees = fees_from(settings)
    call_lease = (
        settings.trade_lease_seconds
        + settings.live_order_timeout_seconds * (3 + settings.http_retry_attempts)
        + in_flight_seconds(settings)
    )  # a lookup, the order, two lookups around its recvWindow, throttled retries
    while True:
        with sessions.begin() as session:
            started = time.monotonic()  # no later than ``now``: what a lease from it ends at
            now = clock()
            _renew(session, trade_id, owner, now, settings.trade_lease_seconds)
            trade = session.get(Trade, trade_id)
            cycle = tuple(
                Leg.from_dict(d) for d in session.get(Opportunity, trade.opportunity_id).legs
            )
            run = Run(trade_id, owner, strategy_of(cycle), cycle, fees)
            done = list(
                session.scalars(
                    select(TradeLeg).where(TradeLeg.trade_id == trade_id).order_by(TradeLeg.seq)
                )
            )
            step, refused = None, None
            if trade.status == unwind.UNWINDING:
                step = unwind.next_step(cycle, done, fees)
                if step is None:
                    return _unwound(session, run, done, now)
                books, why = _unwind_books(session, settings, step, fees, now)
                if why:
                    return _strand(session, run, step, why, now)
                seq, leg, amount = step.seq, step.leg, step.amount
            else:
                if len(done) == len(cycle):
                    if unwind.next_step(cycle, done, fees) is None:
                        return _finish(session, run, done, now)
                    _unwind_rest(session, run, done, now)
                    continue
                seq = len(done) + 1
                first = not done and not trade.legs_sent  # nothing sent yet: check it as on paper
                if first and (reasons := _refusals(session, settings, trade, cycle, now, assess)):
                    return _stop(session, run, done, 1, "; ".join(reasons), now)
                leg = cycle[seq - 1]
                amount = done[-1].buy_amount if done else trade.size_usd
                if not done and not first:  # it may have left: placed only if still allowed
                    refused = "; ".join(_refusals(session, settings, trade, cycle, now, assess))
            order = LegOrder(
                trade_id, seq, leg, amount, resent=trade.legs_sent >= seq, refused=refused or None
            )
            if step is not None and settings.trading_mode == "paper":
                fill = PaperVenue(books, fees, settings.paper_slippage).fill(order)
                liquidity.record(session, trade_id, [fill], books, now)
                _keep(session, run, step, seq, fill, now)
                continue
            if Market.parse(leg.market).venue is Venue.P2P:
                ended = _ticket(session, cache, settings, run, done, step, order, now)
                if ended is None:
                    continue
                return ended
            if step is None:  # the book this leg is priced on; an unwind's are loaded
                books = liquidity.remaining(session, latest.get_many(session, cache, [leg.market]))
            # the order leaves while the lease still covers its recvWindow: once it could
            # lapse, another attempt may take the trade, look the order up, and place it
            send_by = started + call_lease - in_flight_seconds(settings)
            order = replace(
                order, price=best_price(books.get(leg.market), leg.side), send_by=send_by
            )
            _renew(session, trade_id, owner, now, call_lease)
            trade.legs_sent = max(trade.legs_sent, seq)
        try:
            fill = spot().fill(order)
        except LegRefused as exc:
            with sessions.begin() as session:
                now = clock()
                _renew(session, trade_id, owner, now, settings.trade_lease_seconds)
                ended = _refuse(session, run, done, step, seq, str(exc), now)
            if ended is None:
                continue
            return ended
        except (OrderInDoubt, SpotUnavailable) as exc:
            log.warning("trade %s leg %s: %s; the next attempt looks it up", trade_id, seq, exc)
            # the call is over: the next attempt soon, but not before a request still in
            # flight would be refused for its recvWindow, so "does not exist" is final then
            window = in_flight_seconds(settings)
            with sessions.begin() as session:
                _renew(session, trade_id, owner, clock(), max(settings.trade_lease_seconds, window))
            return trade.status, run.strategy, None
        with sessions.begin() as session:
            now = clock()
            _renew(session, trade_id, owner, now, settings.trade_lease_seconds)
            _keep(session, run, step, seq, fill, now)
            _took(session, trade_id, books.get(leg.market), fill)


@dataclass(frozen=True)
class Run:
    """The trade one attempt is running, and what it needs to store or stop a leg."""

    trade_id: int
    owner: str
    strategy: str
    cycle: tuple[Leg, ...]
    fees: Fees


def _keep(session, run: Run, step: unwind.Step | None, seq: int, fill: LegFill, now) -> None:
    """Store a filled leg of the cycle, or of its unwind."""
    if step is not None:
        legs.store_reverse(session, run.trade_id, step, fill, run.fees, now, actor="worker")
        return
    nxt = run.cycle[seq] if seq < len(run.cycle) else None
    fill = with_transfer(fill, nxt, run.fees)
    legs.store(session, run.trade_id, seq, fill, nxt, now, actor="worker")


def best_price(book, side: str) -> Decimal | None:
    """The best price a taker on ``side`` gets from ``book`` (None: no book, no level)."""
    prices = [ad.price for ad in book.side(side)] if book is not None else []
    if not prices:
        return None
    return min(prices) if side == "BUY" else max(prices)


def _took(session, trade_id: int, book, fill: LegFill) -> None:
    """What a spot order took from the book it was priced on, so the next scan and fill
    see only the rest: Binance names no levels, so its base quantity is walked over them."""
    if book is None:
        return
    base = fill.sell_amount if fill.leg.side == "SELL" else fill.buy_amount + fill.fee
    liquidity.take_quantity(session, trade_id, book, fill.leg.side, base)


def _refuse(session, run: Run, done, step, seq, reason, now):
    """A venue refused a leg: the unwind is stranded, or the cycle stops (None: it unwinds
    now, in this attempt)."""
    if step is not None:
        return _strand(session, run, step, reason, now)
    return _stop(session, run, done, seq, reason, now)


def _unwind_books(session, settings, step: unwind.Step, fees, now):
    """The books the rest of the unwind fills on, and why it cannot (None if it can)."""
    markets = sorted({leg.market for leg in step.rest})
    books, failing = latest.locked(session, markets)
    stale = sorted(latest.untrusted(books, failing, markets, now, settings.stale_after_seconds))
    if stale:
        return books, f"books stale or missing: {', '.join(stale)}"
    books = liquidity.remaining(session, books)
    fills = run_cycle(step.rest, books, step.amount, fees)
    if len(fills) < len(step.rest) or not fills[-1].complete:
        return books, f"the books cannot take {plain(step.amount)} {step.leg.src} back"
    return books, None


def _refusals(session, settings, trade, cycle, now, assess) -> list[str]:
    """The paper checks, and room for the tickets the P2P legs will open: a cycle is not
    started when it could not be finished."""
    reasons = assess(session, trade, cycle, now)
    tickets_needed = sum(Market.parse(leg.market).venue is Venue.P2P for leg in cycle)
    limit = controls.load(session, settings).max_open_tickets
    if tickets_needed and tickets.open_count(session) + 1 > limit:
        reasons.append(refusals.OPEN_TICKETS(limit=limit))
    return reasons


def _renew(session: Session, trade_id: int, owner: str, now: datetime, seconds: float) -> None:
    if not trades.renew(session, trade_id, owner, now, seconds):
        raise LostClaim(trade_id)


def _ticket(session, cache, settings, run: Run, done, step, order, now):
    """The P2P leg's operator ticket; the trade waits for it (None: it unwinds now)."""
    books = liquidity.remaining(session, latest.get_many(session, cache, [order.leg.market]))
    limit = controls.load(session, settings).max_open_tickets
    try:
        waiting = OperatorVenue(session, books, run.fees, now, limit).fill(order)
    except LegRefused as exc:
        return _refuse(session, run, done, step, order.seq, str(exc), now)
    detail = f"leg {order.seq} waits for operator ticket {waiting.ticket_id}"
    if step is not None:
        detail = f"unwind {detail}"
    if not trades.transition(
        session, order.trade_id, trades.RUNNING, tickets.AWAITING, now, detail,
        actor="worker", owner=run.owner, lease_until=None,
    ):  # fmt: skip
        raise LostClaim(order.trade_id)
    return tickets.AWAITING, run.strategy, None


def _stop(session, run: Run, done, seq, reason, now):
    """Refused before anything moved: rejected. Refused later: what the filled legs
    bought is unwound (None: the caller goes on with it)."""
    if seq == 1:
        if not trades.transition(
            session, run.trade_id, ("executing",), "rejected", now, reason,
            actor="worker", owner=run.owner, error=reason[:500], lease_until=None,
        ):  # fmt: skip
            raise LostClaim(run.trade_id)
        return "rejected", run.strategy, None
    detail = f"leg {seq} refused after legs 1-{seq - 1}: {reason}; " + unwinding(
        run.cycle, done, run.fees
    )
    if not trades.transition(
        session, run.trade_id, ("executing",), unwind.UNWINDING, now, detail,
        actor="worker", owner=run.owner, error=detail[:500],
    ):  # fmt: skip
        raise LostClaim(run.trade_id)
    return None


def unwinding(cycle, done, fees) -> str:
    """What the unwind starts from, for the trade's history."""
    step, left = unwind.plan(cycle, done, fees)
    if step is None:
        return "nothing to take back: " + "; ".join(map(str, left))
    return f"unwinding {plain(step.held)} {step.leg.src} ({step.held_at}) back to {cycle[0].src}"


def _unwind_rest(session, run: Run, done, now) -> None:
    """Every leg filled, but one spent only part of what the leg before it bought: that
    rest goes back to the starting currency, so the trade ends holding nothing unplanned."""
    detail = "cycle done, an earlier leg's proceeds partly unspent; " + unwinding(
        run.cycle, done, run.fees
    )
    if not trades.transition(
        session, run.trade_id, ("executing",), unwind.UNWINDING, now, detail,
        actor="worker", owner=run.owner,
    ):  # fmt: skip
        raise LostClaim(run.trade_id)


def _leftovers(run: Run, done) -> str:
    """What stays in the house's accounts, for the trade's history ("" when nothing)."""
    left = unwind.plan(run.cycle, done, run.fees)[1]
    return "".join(f"; {item}" for item in left)


def _strand(session, run: Run, step: unwind.Step, why: str, now):
    """The unwind cannot go on: the trade says what it holds and where."""
    detail = (
        f"cannot unwind leg {step.seq}: {why}; holds {plain(step.held)} {step.leg.src} "
        f"at {step.held_at}"
    )
    if not trades.transition(
        session, run.trade_id, trades.RUNNING, unwind.STRANDED, now, detail,
        actor="worker", owner=run.owner, error=detail[:500], lease_until=None,
    ):  # fmt: skip
        raise LostClaim(run.trade_id)
    return unwind.STRANDED, run.strategy, None


def _unwound(session, run: Run, done, now):
    profit = legs.profit(done)
    if not trades.transition(
        session, run.trade_id, (unwind.UNWINDING,), unwind.UNWOUND, now,
        f"unwound back to {run.cycle[0].src}, profit {profit:.2f} USD{_leftovers(run, done)}",
        actor="worker", owner=run.owner, profit_usd=profit, lease_until=None,
    ):  # fmt: skip
        raise LostClaim(run.trade_id)
    return unwind.UNWOUND, run.strategy, profit


def _finish(session, run: Run, done, now):
    profit = legs.profit(done)
    detail = f"live fill, profit {profit:.2f} USD{_leftovers(run, done)}"
    if not trades.transition(
        session, run.trade_id, ("executing",), "filled", now, detail,
        actor="worker", owner=run.owner, profit_usd=profit, lease_until=None,
    ):  # fmt: skip
        raise LostClaim(run.trade_id)
    return "filled", run.strategy, profit
