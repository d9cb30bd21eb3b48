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

A cycle whose legs all filled can still hold something unplanned: an operator ticket
confirmed for part of what the leg before it bought, the cycle going on with what it
moved. Once the last leg is stored that rest goes back the same way (the trade goes
``unwinding``), so the trade ends holding nothing it did not mean to. A holding below its
reverse leg's venue minimum (a lot step, a cent) is dust: it cannot be sold, so it is
recorded in the trade's history, never sent, and never strands the trade.

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
from backend.trading.ledger import plain

UNWINDING, UNWOUND, STRANDED = "unwinding", "unwound", "stranded"
# A stranded trade an admin closed: the desk keeps what its legs bought (see stranded.py).
CLOSED = "closed"


class Stored(Protocol):
    seq: int
    price: Decimal | None
    sell_amount: Decimal
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


def minimum(leg: Leg, fees: Fees, price: Decimal | None = None) -> Decimal:
    """The least of ``leg.src`` its venue takes in one order: one step of it. On spot a
    SELL spends whole lots (Binance's LOT_SIZE, as live orders are cut), a BUY whole
    cents of the quote and at least one lot at ``price`` (the price the reversed leg got:
    Binance fills no fraction of a lot); either is worth at least the symbol's minimum
    notional (Binance's NOTIONAL filter), valued at ``price`` for a SELL. Less is dust."""
    market = Market.parse(leg.market)
    step = precision.of(market).step(market, leg.src)
    if market.venue is not Venue.SPOT:
        return step
    lot = max(precision.of(market).quantity, fees.lot(market.symbol))
    notional = fees.notional(market.symbol)
    if leg.side == "SELL":
        return max(step, lot, notional / price if price else Decimal("0"))
    return max(step, precision.CENT, lot * (price or 0), notional)


@dataclass(frozen=True)
class Left:
    """What the unwind leaves in the house's account: ``dust`` when below the venue's
    minimum (never sent), else what a reverse leg did not spend."""

    amount: Decimal
    currency: str
    account: str
    dust: bool = False

    def __str__(self) -> str:
        said = f"{plain(self.amount)} {self.currency} left at {self.account}"
        return f"dust {said}" if self.dust else said


def holdings(cycle: Sequence[Leg], kept: Sequence[Stored]) -> list[tuple[Decimal, str, int]]:
    """(amount, account, legs to reverse) of each unplanned holding, in unwind order: what
    the last filled leg bought when the cycle stopped before its end, then what each leg
    bought that the next one did not spend (a ticket confirmed for part of it), latest
    first. Each goes back through legs ``1..k`` reversed."""
    k = len(kept)
    found = []
    if 0 < k < len(cycle):
        found.append((kept[-1].buy_amount, held_at(cycle, k), k))
    for j in range(k - 1, 0, -1):
        rest = kept[j - 1].buy_amount - kept[j].sell_amount
        if rest > 0:
            found.append((rest, held_at(cycle, j), j))
    return found


def plan(
    cycle: Sequence[Leg], rows: Sequence[Stored], fees: Fees
) -> tuple[Step | None, list[Left]]:
    """The next reverse leg and what stays behind so far (see ``_walk``)."""
    step, left, _ = _walk(cycle, rows, fees)
    return step, left


def length(cycle: Sequence[Leg], rows: Sequence[Stored], fees: Fees) -> int:
    """How many reverse legs the unwind has as planned now: those stored, then the next
    one and every one still queued after it (an unspent rest adds its legs again)."""
    return sum(r.seq > len(cycle) for r in rows) + _walk(cycle, rows, fees)[2]


def _walk(
    cycle: Sequence[Leg], rows: Sequence[Stored], fees: Fees
) -> tuple[Step | None, list[Left], int]:
    """The next reverse leg given the trade's stored legs (seq order), None once every
    holding has been taken back; and what stays behind so far. A holding below its
    reverse leg's minimum is dust: recorded, never sent, so it cannot strand the trade.
    What a reverse leg did not spend (an operator confirmed an unwind ticket for less)
    is one more holding, taken back through that leg again and the ones after it, once
    the holdings before it are done."""
    n = len(cycle)
    kept = [r for r in rows if r.seq <= n]
    back = [r for r in rows if r.seq > n]
    done, left = 0, []
    # (amount, where it sits, the reverse legs it goes through, the kept leg each undoes)
    todo = [
        (amount, where, reverse_legs(cycle[:k], where), range(k - 1, -1, -1))
        for amount, where, k in holdings(cycle, kept)
    ]
    while todo:
        held, where, legs, undoes = todo.pop(0)
        for i, leg in enumerate(legs):
            step = _step(n + done + 1, legs[i:], held, where if i == 0 else None, fees)
            if step.amount < minimum(leg, fees, kept[undoes[i]].price):
                left.append(Left(step.held, leg.src, step.held_at, dust=True))
                break
            if done == len(back):
                return step, left, len(legs) - i + sum(len(item[2]) for item in todo)
            row, done = back[done], done + 1
            if row.sell_amount < step.amount:
                todo.append((step.amount - row.sell_amount, step.pays_from, legs[i:], undoes[i:]))
            held = row.buy_amount
    return None, left, 0


def next_step(cycle: Sequence[Leg], rows: Sequence[Stored], fees: Fees) -> Step | None:
    """The next reverse leg (see ``plan``); None once nothing is left to take back."""
    return plan(cycle, rows, fees)[0]


def _step(seq: int, rest: tuple[Leg, ...], held: Decimal, where: str | None, fees: Fees) -> Step:
    """Reverse leg ``rest[0]`` spending ``held``: from ``where`` (a holding's first leg,
    moved to the account it pays from, at the transfer fee when a bank is on a side), or
    from what the reverse leg before it brought."""
    leg, nxt = rest[0], rest[1] if len(rest) > 1 else None
    step = Step(seq, leg, held, nxt, rest, held, where or _pays_from(leg))
    if step.moves and accounts.transfer_costs(step.held_at, step.pays_from):
        market = Market.parse(leg.market)
        unit = precision.of(market).step(market, leg.src)
        fee = precision.up(held * fees.transfer, unit)
        step = Step(seq, leg, held - fee, nxt, rest, held, step.held_at, fee)
    return step


def _pays_from(leg: Leg) -> str:
    return accounts.house(leg.market, leg.method, leg.src)
