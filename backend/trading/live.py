"""Live execution: leg by leg, each at its venue, each leg committed as soon as it is done.

A live leg cannot share one transaction with the others: a spot leg is a call to
Binance, a P2P leg waits for a person. So the executor goes on from the first leg not
stored yet. Before the first leg the trade is checked exactly as on paper (profit
re-priced on the books, limits, balances). A spot leg is sent outside any transaction,
with the claim's lease stretched over the call; its client order id makes a later
attempt find the order instead of placing it again. The fill is stored with its postings
in a short transaction that first renews the claim. A P2P leg opens an operator ticket
and the trade waits in ``awaiting_operator``; confirming the ticket stores that leg and
requests the trade again, which comes back here for the next leg.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Cache
from backend.config import Settings
from backend.market import latest
from backend.market.book import Market, Venue
from backend.models import Opportunity, Trade, TradeLeg
from backend.trading import controls, legs, liquidity, tickets, trades
from backend.trading.arbitrage import strategy_of
from backend.trading.execution import Leg, with_transfer
from backend.trading.executor import LostClaim
from backend.trading.quotes import fees_from
from backend.trading.venues import LegOrder, LegRefused, LegVenue
from backend.trading.venues.live_spot import OrderInDoubt, SpotUnavailable
from backend.trading.venues.operator import OperatorVenue

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
    """Run the trade's next legs; (status, strategy, profit) where it stopped."""
    fees = fees_from(settings)
    call_lease = settings.trade_lease_seconds + settings.live_order_timeout_seconds * (
        2 + settings.http_retry_attempts
    )  # a lookup, the order, a lookup after it, throttled retries
    while True:
        with sessions.begin() as session:
            now = clock()
            _renew(session, trade_id, owner, now, settings.trade_lease_seconds)
            trade = session.get(Trade, trade_id)
            cycle = tuple(
                Leg.from_dict(d) for d in session.get(Opportunity, trade.opportunity_id).legs
            )
            strategy = strategy_of(cycle)
            done = list(
                session.scalars(
                    select(TradeLeg).where(TradeLeg.trade_id == trade_id).order_by(TradeLeg.seq)
                )
            )
            if len(done) == len(cycle):
                return _finish(session, trade_id, done, now, owner, strategy)
            seq = len(done) + 1
            first = not done and not trade.legs_sent  # nothing sent yet: check it as on paper
            if first and (reasons := _refusals(session, settings, trade, cycle, now, assess)):
                return _stop(session, trade_id, 1, "; ".join(reasons), now, owner, strategy)
            leg, nxt = cycle[seq - 1], cycle[seq] if seq < len(cycle) else None
            amount = done[-1].buy_amount if done else trade.size_usd
            order = LegOrder(trade_id, seq, leg, amount, resent=trade.legs_sent >= seq)
            if Market.parse(leg.market).venue is Venue.P2P:
                return _ticket(session, cache, settings, order, fees, now, owner, strategy)
            _renew(session, trade_id, owner, now, call_lease)
            trade.legs_sent = max(trade.legs_sent, seq)
        try:
            fill = spot().fill(order)
        except LegRefused as exc:
            with sessions.begin() as session:
                now = clock()
                _renew(session, trade_id, owner, now, settings.trade_lease_seconds)
                return _stop(session, trade_id, seq, str(exc), now, owner, strategy)
        except (OrderInDoubt, SpotUnavailable) as exc:
            log.warning("trade %s leg %s: %s; the next attempt looks it up", trade_id, seq, exc)
            with sessions.begin() as session:  # the call is over: the next attempt soon
                _renew(session, trade_id, owner, clock(), settings.trade_lease_seconds)
            return "executing", strategy, None
        with sessions.begin() as session:
            now = clock()
            _renew(session, trade_id, owner, now, settings.trade_lease_seconds)
            legs.store(
                session, trade_id, seq, with_transfer(fill, nxt, fees), nxt, now, actor="worker"
            )


def _refusals(session, settings, trade, cycle, now, assess) -> list[str]:
    """The paper checks, and room for the tickets the P2P legs will open: a cycle is not
    started when it could not be finished."""
    reasons = assess(session, trade, cycle, now)
    tickets_needed = sum(Market.parse(leg.market).venue is Venue.P2P for leg in cycle)
    limit = controls.load(session, settings).max_open_tickets
    if tickets_needed and tickets.open_count(session) + 1 > limit:
        reasons.append(f"max open operator tickets ({limit}) reached")
    return reasons


def _renew(session: Session, trade_id: int, owner: str, now: datetime, seconds: float) -> None:
    if not trades.renew(session, trade_id, owner, now, seconds):
        raise LostClaim(trade_id)


def _ticket(session, cache, settings, order, fees, now, owner, strategy):
    """The P2P leg's operator ticket; the trade waits for it."""
    books = liquidity.remaining(session, latest.get_many(session, cache, [order.leg.market]))
    limit = controls.load(session, settings).max_open_tickets
    try:
        waiting = OperatorVenue(session, books, fees, now, limit).fill(order)
    except LegRefused as exc:
        return _stop(session, order.trade_id, order.seq, str(exc), now, owner, strategy)
    detail = f"leg {order.seq} waits for operator ticket {waiting.ticket_id}"
    if not trades.transition(
        session, order.trade_id, ("executing",), tickets.AWAITING, now, detail,
        actor="worker", owner=owner, lease_until=None,
    ):  # fmt: skip
        raise LostClaim(order.trade_id)
    return tickets.AWAITING, strategy, None


def _stop(session, trade_id, seq, reason, now, owner, strategy):
    """Refused before anything moved: rejected. Refused later: failed, legs kept."""
    status = "rejected" if seq == 1 else "failed"
    detail = reason if seq == 1 else f"leg {seq} refused after legs 1-{seq - 1}: {reason}"
    if not trades.transition(
        session, trade_id, ("executing",), status, now, detail,
        actor="worker", owner=owner, error=detail[:500], lease_until=None,
    ):  # fmt: skip
        raise LostClaim(trade_id)
    return status, strategy, None


def _finish(session, trade_id, done, now, owner, strategy):
    profit = legs.profit(done)
    if not trades.transition(
        session, trade_id, ("executing",), "filled", now, f"live fill, profit {profit:.2f} USD",
        actor="worker", owner=owner, profit_usd=profit, lease_until=None,
    ):  # fmt: skip
        raise LostClaim(trade_id)
    return "filled", strategy, profit
