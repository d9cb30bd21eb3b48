"""Unwinding a cycle that stopped halfway: what the filled legs bought goes back to the
cycle's starting currency through the same venues, last leg first.

A live cycle can stop after some legs filled (an operator cancels a ticket, Binance
refuses a spot order). The desk then holds an intermediate currency it never meant to
keep, so the trade goes ``unwinding``: each filled leg is taken in reverse (a BUY
becomes a SELL on the same market and payment method) on the books as they are then,
and stored as one more leg after the cycle's own, so the trade's realized profit (a loss,
usually) is still the sum of all its legs' cash flows. When the reverse legs cannot be
priced (books stale or too thin) or a venue refuses one, the trade is ``stranded``: it
names what it holds and where, a gauge counts it, and the sweeper tries again later.

The planning here is pure: stored legs in, the next reverse leg out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from backend.market import precision
from backend.market.book import Market, Venue
from backend.trading import accounts
from backend.trading.execution import Fees, Leg

UNWINDING, UNWOUND, STRANDED = "unwinding", "unwound", "stranded"
# A stranded trade an admin closed: the desk keeps what its legs bought (see stranded.py).
CLOSED = "closed"


class Stored(Protocol):
    seq: int
    buy_amount: Decimal


def reverse(leg: Leg, method: str | None = None) -> Leg:
    """The conversion that undoes ``leg`` on its own market (and ``method``, if given)."""
    side = "SELL" if leg.side == "BUY" else "BUY"
    return Leg(leg.market, side, method or leg.method, leg.dst, leg.src)


def reverse_legs(filled: Sequence[Leg], held_at: str | None = None) -> tuple[Leg, ...]:
    """The legs that take what ``filled`` bought back to the first one's source, last
    first. The first pays from ``held_at`` when that is one of its P2P market's bank
    accounts (the fiat already sits there: no transfer to pay)."""
    if not filled:
        return ()
    last, method = filled[-1], None
    market = Market.parse(last.market)
    fiat = market.venue is Venue.P2P and last.dst == market.fiat
    if fiat and held_at and held_at.startswith("bank:"):
        method = held_at.split(":")[1]
    return (reverse(last, method), *(reverse(leg) for leg in reversed(filled[:-1])))


@dataclass(frozen=True)
class Step:
    """The next reverse leg: stored as leg ``seq`` of the trade, spending ``amount``."""

    seq: int
    leg: Leg
    amount: Decimal  # of leg.src, after any move to the account it pays from
    next: Leg | None  # the reverse leg after it, if any
    rest: tuple[Leg, ...]  # this leg and those after it
    held: Decimal  # what the desk holds of leg.src, before that move
    held_at: str  # where it sits
    move_fee: Decimal = Decimal("0")  # the transfer fee of that move, if a bank is on a side

    @property
    def pays_from(self) -> str:
        return _pays_from(self.leg)

    @property
    def moves(self) -> bool:
        return self.held_at != self.pays_from


def held_at(cycle: Sequence[Leg], kept: int) -> str:
    """Where leg ``kept``'s proceeds sit: moved to the account the next leg pays from."""
    last = cycle[kept - 1]
    nxt = cycle[kept] if kept < len(cycle) else last
    return accounts.house(nxt.market, nxt.method, last.dst)


def next_step(cycle: Sequence[Leg], rows: Sequence[Stored], fees: Fees) -> Step | None:
    """The next reverse leg given the trade's stored legs (seq order); None once every
    filled leg of the cycle has been reversed (or none was filled)."""
    n = len(cycle)
    kept = [r for r in rows if r.seq <= n]
    back = [r for r in rows if r.seq > n]
    if not kept:
        return None
    where = held_at(cycle, len(kept))
    legs = reverse_legs(cycle[: len(kept)], where)
    i = len(back)
    if i >= len(legs):
        return None
    leg, nxt = legs[i], legs[i + 1] if i + 1 < len(legs) else None
    if i:  # the previous reverse leg moved its proceeds to where this one pays from
        held = back[-1].buy_amount
        return Step(n + i + 1, leg, held, nxt, legs[i:], held, _pays_from(leg))
    held = kept[-1].buy_amount
    step = Step(n + 1, leg, held, nxt, legs, held, where)
    if step.moves and accounts.transfer_costs(where, step.pays_from):
        market = Market.parse(leg.market)
        unit = precision.of(market).step(market, leg.src)
        fee = precision.up(held * fees.transfer, unit)
        step = Step(n + 1, leg, held - fee, nxt, legs, held, where, fee)
    return step


def _pays_from(leg: Leg) -> str:
    return accounts.house(leg.market, leg.method, leg.src)
