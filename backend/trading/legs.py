"""A filled leg as the desk keeps it: its trade_legs row and its ledger entry, together.

Paper fills, live spot orders and confirmed operator tickets all end here, so a leg is
never stored without its postings (nor the other way round).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend import db
from backend.models import TradeLeg
from backend.trading import accounts, ledger, trade_days
from backend.trading.execution import ANCHOR, Fees, Leg, LegFill, with_transfer
from backend.trading.unwind import Step


def row(trade_id: int, seq: int, fill: LegFill, now: datetime) -> dict:
    """Leg ``seq``'s trade_legs row, as the values to insert."""
    leg = fill.leg
    return {
        "trade_id": trade_id,
        "seq": seq,
        "market": leg.market,
        "side": leg.side,
        "method": leg.method,
        "price": fill.price,
        "sell_currency": leg.src,
        "sell_amount": fill.sell_amount,
        "buy_currency": leg.dst,
        "buy_amount": fill.buy_amount,
        "fee": fill.fee,
        "filled_at": now,
    }


def write(session: Session, trade_id: int, rows: list[dict]) -> None:
    """Insert a trade's leg rows in one round trip. Written past the ORM, so the daily
    totals are told first: a leg adds its market to what the trade counts in."""
    trade_days.touch(session, trade_id)
    db.insert_rows(session, TradeLeg, rows)


def store(
    session: Session,
    trade_id: int,
    seq: int,
    fill: LegFill,
    next_leg: Leg | None,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Write leg ``seq`` and post it, its move to the account ``next_leg`` pays from too."""
    write(session, trade_id, [row(trade_id, seq, fill, now)])
    next_src = None
    if next_leg is not None:
        next_src = accounts.house(next_leg.market, next_leg.method, fill.leg.dst)
    lines = ledger.leg_lines(fill, next_src)
    ledger.post(session, "fill", lines, actor=actor, now=now, trade_id=trade_id)


def store_reverse(
    session: Session,
    trade_id: int,
    step: Step,
    fill: LegFill,
    fees: Fees,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Write an unwind leg; the first also moves the holding to the account it pays from
    (at the transfer fee when a bank is on either side)."""
    if step.moves:
        lines = [
            ledger.Line(step.held_at, -step.held),
            ledger.Line(accounts.fees("transfer", step.leg.src), step.move_fee),
            ledger.Line(step.pays_from, step.amount),
        ]
        lines = [line for line in lines if line.amount]
        ledger.post(session, "transfer", lines, actor=actor, now=now, trade_id=trade_id)
    store(
        session,
        trade_id,
        step.seq,
        with_transfer(fill, step.next, fees),
        step.next,
        now,
        actor=actor,
    )


def profit(rows: Iterable[TradeLeg]) -> Decimal:
    """The anchor's net flow over stored legs: what a trade made, done or stopped halfway."""
    total = Decimal("0")
    for leg in rows:
        total += leg.buy_amount if leg.buy_currency == ANCHOR else 0
        total -= leg.sell_amount if leg.sell_currency == ANCHOR else 0
    return total
