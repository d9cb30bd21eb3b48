"""Operator tickets: live P2P legs carried out by a person, settled exactly once.

Binance offers no public API to place P2P orders, so in live mode a P2P leg becomes a
ticket naming what to do (the ads to take: advertiser, ad number, price, payment method,
limits, the fiat to pay or the asset to release) and its trade waits in
``awaiting_operator``. The operator confirms what really happened (amounts, partial fills
allowed, a reference) or cancels. Both are one conditional ``UPDATE ... WHERE status =
'open'``: of two confirmations, even at the same instant, one wins and the other is
told the ticket is already closed; only the winner writes the leg.

A confirmed ticket becomes the trade's leg, records what it took from the ads it named
(so the desk does not list that liquidity again), and the trade goes back to
``requested`` (the outbox: published now, or by the sweeper) for the executor to go on
with the next leg. A cancelled first leg ends the trade ``cancelled``; a cancelled later
leg sends the trade ``unwinding``: the executor turns what the earlier legs bought back
into the starting currency (``unwind``), through new tickets for P2P legs. A ticket of
the unwind itself (its seq past the cycle's legs) goes back to ``unwinding`` when
confirmed; cancelled, it leaves the trade ``stranded``, naming what it holds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.market.book import Book
from backend.market.pricing import walk, walk_amount
from backend.models import OperatorTicket, Opportunity, Trade, TradeLeg
from backend.ops import metrics
from backend.trading import legs, liquidity, refusals, trades, unwind
from backend.trading.execution import Fees, Leg, LegFill, fill_leg, with_transfer
from backend.trading.ledger import plain
from backend.trading.venues import Awaiting, LegOrder, LegRefused

OPEN, CONFIRMED, CANCELLED = "open", "confirmed", "cancelled"
AWAITING = "awaiting_operator"
MAX_DIGITS = 18  # NUMERIC(38, 18)
WIRE_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class TicketError(Exception):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message, self.status = message, status


def open_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(OperatorTicket.status == OPEN)) or 0


def overdue(session: Session, now: datetime, seconds: float) -> int:
    """Open tickets older than ``seconds``: what the OperatorTicketOverdue alert counts."""
    cutoff = now - timedelta(seconds=seconds)
    return (
        session.scalar(
            select(func.count()).where(
                OperatorTicket.status == OPEN, OperatorTicket.created_at < cutoff
            )
        )
        or 0
    )


def instructions(order: LegOrder, book: Book, fees: Fees) -> tuple[list[dict], Decimal]:
    """The ads the leg takes, as the book walk takes them, and the amount it should bring."""
    leg = order.leg
    fill = fill_leg(leg, book, order.amount, fees.taker(leg))
    if not fill.complete:
        raise LegRefused(f"the {leg.market} book no longer holds {order.amount} {leg.src}")
    ads = {ad.ad_no: ad for ad in book.side(leg.side)}
    steps = []
    for ad_no, price, quantity in _takes(leg.side, ads, order.amount, leg.method):
        ad = ads[ad_no]
        fiat = quantity * price
        steps.append(
            {
                "ad_no": ad_no,
                "advertiser": ad.advertiser.nick,
                "advertiser_type": ad.advertiser.user_type,
                "price": str(price),
                "method": leg.method or "|".join(ad.methods),
                "min_amount": str(ad.min_amount),
                "max_amount": None if ad.max_amount is None else str(ad.max_amount),
                # BUY: the desk pays fiat and receives the asset; SELL: releases the asset
                "pay" if leg.side == "BUY" else "release": plain(
                    fiat if leg.side == "BUY" else quantity
                ),
                "receive": plain(quantity if leg.side == "BUY" else fiat),
            }
        )
    return steps, fill.buy_amount


def _takes(side: str, ads: dict, amount: Decimal, method: str | None):
    """(ad_no, price, quantity) per ad, the same walk the fill prices."""
    book_side = tuple(ads.values())
    walked = walk_amount if side == "BUY" else walk
    return walked(book_side, amount, method).takes


def confirmed_takes(
    instructions: list[dict], side: str, planned: Decimal, sold: Decimal
) -> list[tuple[str, Decimal]]:
    """(ad_no, asset quantity) taken from each ad the ticket named, pro rata to what was
    confirmed sold: the operator does not say which ads they took, only how much."""
    share = sold / planned
    key = "receive" if side == "BUY" else "release"  # the asset's side of each step
    quantum = Decimal(1).scaleb(-MAX_DIGITS)
    return [(s["ad_no"], (Decimal(s[key]) * share).quantize(quantum)) for s in instructions]


def open_ticket(
    session: Session,
    order: LegOrder,
    book: Book,
    fees: Fees,
    now: datetime,
    max_open: int | None = None,
) -> Awaiting:
    """The leg's ticket (the existing one on a redelivery); refused past ``max_open``."""
    found = session.execute(
        select(OperatorTicket.id, OperatorTicket.status).where(
            OperatorTicket.trade_id == order.trade_id, OperatorTicket.seq == order.seq
        )
    ).first()
    if found is not None and found.status == CANCELLED:
        raise LegRefused(f"operator ticket {found.id} for leg {order.seq} was cancelled")
    if found is not None:
        return Awaiting(found.id)
    if max_open is not None and open_count(session) >= max_open:
        raise LegRefused(refusals.OPEN_TICKETS(limit=max_open))
    steps, planned_buy = instructions(order, book, fees)
    leg = order.leg
    ticket = OperatorTicket(
        trade_id=order.trade_id,
        seq=order.seq,
        market=leg.market,
        side=leg.side,
        method=leg.method,
        sell_currency=leg.src,
        buy_currency=leg.dst,
        planned_sell=order.amount,
        planned_buy=planned_buy,
        instructions=steps,
        status=OPEN,
        created_at=now,
        book_fetched_at=book.fetched_at,
    )
    session.add(ticket)
    session.flush()
    return Awaiting(ticket.id)


def amount(raw: object, name: str, *, zero: bool = False) -> Decimal:
    """A decimal given as a string (``"1250.50"``): finite, at most 18 places."""
    if not isinstance(raw, str) or not 0 < len(raw) <= 40:
        raise TicketError(f'{name} must be a decimal string such as "1250.50"')
    if not WIRE_DECIMAL.fullmatch(raw.strip()):  # Decimal() alone takes "٥٠٠" and "1_000"
        raise TicketError(f"{name} {raw[:40]!r} is not a number")
    value = Decimal(raw.strip())
    if value.as_tuple().exponent < -MAX_DIGITS or abs(value) >= 10**20:
        raise TicketError(f"{name} {raw[:40]!r} is not an amount")
    if value < 0 or (value == 0 and not zero):
        raise TicketError(f"{name} must be {'zero or ' if zero else ''}more than zero")
    return value


def _text(raw: object, name: str, limit: int) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > limit or not raw.isprintable():
        raise TicketError(f"{name} must be 1 to {limit} printable characters")
    return raw.strip()


def _closing(session: Session, ticket_id: int) -> OperatorTicket:
    ticket = session.get(OperatorTicket, ticket_id)
    if ticket is None:
        raise TicketError(f"ticket {ticket_id} does not exist", 404)
    return ticket


def _close(session: Session, ticket_id: int, status: str, **values) -> None:
    """The one conditional update: whoever finds the ticket still open wins."""
    result = session.execute(
        update(OperatorTicket)
        .where(OperatorTicket.id == ticket_id, OperatorTicket.status == OPEN)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = session.scalar(
            select(OperatorTicket.status).where(OperatorTicket.id == ticket_id)
        )
        raise TicketError(f"ticket {ticket_id} is already {current}", 409)


def confirm(
    session: Session,
    ticket_id: int,
    *,
    sold: object,
    bought: object,
    fee: object = "0",
    reference: object,
    actor: str,
    now: datetime,
    fees: Fees,
) -> OperatorTicket:
    """What really happened: ``sold`` of the sell currency (at most the ticket's), ``bought``
        of the buy currency net of ``fee``. Writes the leg and its postings (with the transfer
    fee to where the next leg pays from); the trade is requested again."""
    ticket = _closing(session, ticket_id)
    sold_v, bought_v = amount(sold, "sold"), amount(bought, "bought")
    fee_v, ref = amount(fee, "fee", zero=True), _text(reference, "reference", 100)
    if sold_v > ticket.planned_sell:
        raise TicketError(
            f"sold {sold_v} is more than the ticket's {ticket.planned_sell} {ticket.sell_currency}"
        )
    _close(
        session,
        ticket_id,
        CONFIRMED,
        closed_at=now,
        closed_by=actor,
        sell_amount=sold_v,
        buy_amount=bought_v,
        fee=fee_v,
        reference=ref,
    )
    gross = bought_v + fee_v
    price = sold_v / gross if ticket.side == "BUY" else gross / sold_v
    cycle = _cycle(session, ticket.trade_id)
    if ticket.seq > len(cycle):  # a leg of the trade's unwind
        step = unwind.next_step(cycle, _stored(session, ticket.trade_id), fees)
        fill = LegFill(step.leg, price, sold_v, bought_v, fee_v, True)
        legs.store_reverse(session, ticket.trade_id, step, fill, fees, now, actor=actor)
    else:
        nxt = cycle[ticket.seq] if ticket.seq < len(cycle) else None
        fill = with_transfer(
            LegFill(cycle[ticket.seq - 1], price, sold_v, bought_v, fee_v, True), nxt, fees
        )
        legs.store(session, ticket.trade_id, ticket.seq, fill, nxt, now, actor=actor)
    if ticket.book_fetched_at is not None:  # against the book it was priced on: a newer
        # fetch may be from after the operator traded, already without those ads
        takes = confirmed_takes(ticket.instructions, ticket.side, ticket.planned_sell, sold_v)
        fetched = ticket.book_fetched_at
        liquidity.take(session, ticket.trade_id, ticket.market, ticket.side, fetched, takes)
    partial = " (partial)" if sold_v < ticket.planned_sell else ""
    trades.transition(
        session,
        ticket.trade_id,
        (AWAITING,),
        unwind.UNWINDING if ticket.seq > len(cycle) else "requested",
        now,
        f"operator confirmed leg {ticket.seq}{partial}, ref {ref}",
        actor=actor,
    )
    session.flush()
    session.refresh(ticket)
    return ticket


def cancel(
    session: Session,
    ticket_id: int,
    *,
    reason: object,
    actor: str,
    now: datetime,
) -> OperatorTicket:
    """Nothing was done on this leg. The first leg: the trade ends ``cancelled``. A later
    one: what the legs before it bought is unwound. One of the unwind: ``stranded``."""
    ticket = _closing(session, ticket_id)
    why = _text(reason, "reason", 500)
    _close(session, ticket_id, CANCELLED, closed_at=now, closed_by=actor, note=why)
    cycle, done = _cycle(session, ticket.trade_id), _stored(session, ticket.trade_id)
    said = f"operator cancelled leg {ticket.seq}: {why}"
    step, left = unwind.plan(cycle, done, Fees())  # what is held, before any transfer
    unwinds = ticket.seq <= len(cycle)
    if step is not None or (done and unwinds):  # only dust held: the unwind records it
        to = unwind.UNWINDING if unwinds else unwind.STRANDED
        if step is None:
            detail = f"{said}; nothing to take back: " + "; ".join(map(str, left))
        else:
            held = f"{plain(step.held)} {step.leg.src} ({step.held_at})"
            detail = f"{said}; " + (
                f"unwinding {held} back to {cycle[0].src}" if unwinds else f"holds {held}"
            )
        trades.transition(
            session, ticket.trade_id, (AWAITING,), to, now, detail, actor=actor,
            error=detail[:500],
        )  # fmt: skip
    else:
        trades.transition(
            session, ticket.trade_id, (AWAITING,), "cancelled", now, said, actor=actor,
            profit_usd=legs.profit(done), error=f"leg {ticket.seq} cancelled by the operator",
        )  # fmt: skip
        trade = session.get(Trade, ticket.trade_id)
        metrics.TRADES_EXECUTED.labels(
            strategy=trade.strategy, mode="live", status="cancelled"
        ).inc()
    session.flush()
    session.refresh(ticket)
    return ticket


def requeues(session: Session, ticket: OperatorTicket) -> bool:
    """Whether the ticket's trade goes on (next leg, or its unwind): publish it."""
    status = session.scalar(select(Trade.status).where(Trade.id == ticket.trade_id))
    return status in ("requested", unwind.UNWINDING)


def _stored(session: Session, trade_id: int) -> list[TradeLeg]:
    return list(
        session.scalars(
            select(TradeLeg).where(TradeLeg.trade_id == trade_id).order_by(TradeLeg.seq)
        )
    )


def _cycle(session: Session, trade_id: int) -> tuple[Leg, ...]:
    trade = session.get(Trade, trade_id)
    return tuple(Leg.from_dict(d) for d in session.get(Opportunity, trade.opportunity_id).legs)


def listing(session: Session, status: str | None = None, limit: int = 200) -> list[OperatorTicket]:
    query = select(OperatorTicket).order_by(OperatorTicket.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OperatorTicket.status == status)
    return list(session.scalars(query))


def unwind_places(session: Session, rows: list[OperatorTicket]) -> dict[int, tuple[int, int]]:
    """Ticket id -> (k, N) for each ticket that is reverse leg k of its trade's unwind of N
    legs (its seq is past the cycle's own; the unwind reverses each unplanned holding
    through the legs that led to it, and an unspent rest through them again, see
    ``unwind.plan``), so the operator knows the leg takes money back rather than on."""
    ids = {t.trade_id for t in rows}
    if not ids:
        return {}
    cycle = {
        trade_id: tuple(Leg.from_dict(d) for d in planned)
        for trade_id, planned in session.execute(
            select(Trade.id, Opportunity.legs)
            .join(Opportunity, Opportunity.id == Trade.opportunity_id)
            .where(Trade.id.in_(ids))
        )
    }
    back = [t for t in rows if t.seq > len(cycle[t.trade_id])]
    if not back:
        return {}
    stored: dict[int, list[TradeLeg]] = {t.trade_id: [] for t in back}
    for leg in session.scalars(
        select(TradeLeg).where(TradeLeg.trade_id.in_(stored)).order_by(TradeLeg.seq)
    ):
        stored[leg.trade_id].append(leg)
    total = {
        trade_id: unwind.length(cycle[trade_id], legs, Fees()) for trade_id, legs in stored.items()
    }
    return {t.id: (t.seq - len(cycle[t.trade_id]), total[t.trade_id]) for t in back}


def as_json(t: OperatorTicket, now: datetime, place: tuple[int, int] | None) -> dict:
    """``place``: (k, N) when the ticket is an unwind's reverse leg (``unwind_places``)."""

    def s(v):
        return None if v is None else str(v)

    return {
        "id": t.id,
        "trade_id": t.trade_id,
        "seq": t.seq,
        "market": t.market,
        "side": t.side,
        "method": t.method,
        "status": t.status,
        "sell_currency": t.sell_currency,
        "buy_currency": t.buy_currency,
        "planned_sell": s(t.planned_sell),
        "planned_buy": s(t.planned_buy),
        "instructions": t.instructions,
        "created_at": t.created_at.isoformat(),
        "age_seconds": round((now - t.created_at).total_seconds(), 1),
        "closed_at": t.closed_at.isoformat() if t.closed_at else None,
        "closed_by": t.closed_by,
        "sold": s(t.sell_amount),
        "bought": s(t.buy_amount),
        "fee": s(t.fee),
        "reference": t.reference,
        "note": t.note,
        "unwind": place is not None,
        "unwind_leg": place[0] if place else None,
        "unwind_legs": place[1] if place else None,
    }
