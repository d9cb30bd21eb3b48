"""Filling a cycle of conversions leg by leg against books, net of every fee.

The arbitrage scan and the paper executor run the same code: an opportunity is priced
exactly the way a paper trade would fill it, and slippage is the only difference.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from backend.market import precision
from backend.market.book import Book, Market, Venue
from backend.market.pricing import walk, walk_amount
from backend.trading import accounts

ANCHOR = "USDT"  # cycles start and end here; 1 USDT is valued at 1 USD


@dataclass(frozen=True)
class Leg:
    """One conversion: BUY takes asks (pay fiat, get asset), SELL takes bids."""

    market: str
    side: str
    method: str | None
    src: str
    dst: str

    def to_dict(self) -> dict:
        return {
            "market": self.market,
            "side": self.side,
            "method": self.method,
            "src": self.src,
            "dst": self.dst,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Leg:
        return cls(data["market"], data["side"], data.get("method"), data["src"], data["dst"])


@dataclass(frozen=True)
class Fees:
    p2p_taker: Decimal = Decimal("0")
    spot_taker: Decimal = Decimal("0.001")
    transfer: Decimal = Decimal("0")  # moving fiat to or from a bank account
    # Binance's LOT_SIZE step per spot symbol (SPOT_LOT_STEPS): the least a sell spends
    lots: tuple[tuple[str, Decimal], ...] = ()
    # Binance's NOTIONAL minimum per spot symbol, in its quote (SPOT_MIN_NOTIONALS)
    notionals: tuple[tuple[str, Decimal], ...] = ()

    def taker(self, leg: Leg) -> Decimal:
        return self.spot_taker if Market.parse(leg.market).venue is Venue.SPOT else self.p2p_taker

    def lot(self, symbol: str) -> Decimal:
        """The symbol's lot step, 0 when none is configured."""
        return dict(self.lots).get(symbol, Decimal("0"))

    def notional(self, symbol: str) -> Decimal:
        """The least quote an order of the symbol may be worth, 0 when none is configured."""
        return dict(self.notionals).get(symbol, Decimal("0"))


@dataclass(frozen=True)
class LegFill:
    leg: Leg
    price: Decimal | None
    sell_amount: Decimal  # of leg.src
    buy_amount: Decimal  # of leg.dst, net of fees
    fee: Decimal  # in leg.dst, the transfer fee included
    complete: bool
    transfer: Decimal = Decimal("0")  # in leg.dst: moving it to the next leg's account
    takes: tuple[tuple[str, Decimal, Decimal], ...] = ()  # (ad_no, price, quantity) taken
    # commission the venue took in another asset (Binance's BNB discount): (currency, amount)
    fees_elsewhere: tuple[tuple[str, Decimal], ...] = ()

    @property
    def src_account(self) -> str:
        return accounts.house(self.leg.market, self.leg.method, self.leg.src)

    @property
    def dst_account(self) -> str:
        return accounts.house(self.leg.market, self.leg.method, self.leg.dst)


def fill_leg(
    leg: Leg, book: Book, amount: Decimal, fee_rate: Decimal, slippage: Decimal = Decimal("0")
) -> LegFill:
    """Fill one leg as its venue settles it: whole steps, the proceeds after slippage
    rounded down and the taker fee rounded up. ``sell_amount`` is what was really taken;
    less than a step of ``amount`` may stay behind."""
    ads = book.side(leg.side)
    venue = precision.of(book.market)
    step = venue.step(book.market, leg.dst)
    if leg.side == "BUY":
        fill = walk_amount(ads, amount, leg.method, venue)
        gross, spent = fill.quantity, fill.amount
    else:
        fill = walk(ads, amount, leg.method, venue)
        gross, spent = fill.amount, fill.quantity
    gross = precision.down(gross * (1 - slippage), step)
    fee = precision.up(gross * fee_rate, step)
    return LegFill(leg, fill.price, spent, gross - fee, fee, fill.complete, takes=fill.takes)


def with_transfer(filled: LegFill, nxt: Leg | None, fees: Fees) -> LegFill:
    """``filled`` less the fee of a bank transfer to where ``nxt`` pays from, if any."""
    leg = filled.leg
    if nxt is None or not accounts.transfer_costs(
        filled.dst_account, accounts.house(nxt.market, nxt.method, leg.dst)
    ):
        return filled
    step = precision.of(Market.parse(leg.market)).step(Market.parse(leg.market), leg.dst)
    transfer = precision.up(filled.buy_amount * fees.transfer, step)
    return replace(
        filled,
        buy_amount=filled.buy_amount - transfer,
        fee=filled.fee + transfer,
        transfer=transfer,
    )


def run_cycle(
    legs: tuple[Leg, ...],
    books: dict[str, Book],
    start: Decimal,
    fees: Fees,
    slippage: Decimal = Decimal("0"),
) -> list[LegFill]:
    """Push ``start`` units of legs[0].src through every leg; stops at the first short fill."""
    fills: list[LegFill] = []
    amount = start
    for i, leg in enumerate(legs):
        filled = fill_leg(leg, books[leg.market], amount, fees.taker(leg), slippage)
        filled = with_transfer(filled, legs[i + 1] if i + 1 < len(legs) else None, fees)
        fills.append(filled)
        if not filled.complete:
            break
        amount = filled.buy_amount
    return fills


def cash_flows(fills: list[LegFill]) -> dict[str, Decimal]:
    """Net amount per currency: intermediate currencies net to zero on a complete cycle."""
    flows: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        flows[f.leg.src] -= f.sell_amount
        flows[f.leg.dst] += f.buy_amount
    return dict(flows)


def profit_usd(fills: list[LegFill]) -> Decimal:
    """Profit is the anchor's net cash flow, by definition the sum of the legs' flows."""
    return cash_flows(fills).get(ANCHOR, Decimal("0"))
