"""How a venue settles an order: quantities and amounts are whole multiples of a step.

Binance P2P settles USDT to 2 decimals and fiat to 2; other P2P assets (BTC) to 8. On
spot, the base quantity follows the symbol's lot size (0.00001 for BTC, 0.01 for
USDT) and the quote to 8 decimals. Estimates round every step in the house's disfavour:
what it receives down, what it pays (fees) up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from backend.market.book import Market, Venue

EXACT_STEP = Decimal("1e-12")  # books walked for display only: quantities cut here
CENT = Decimal("0.01")
SATOSHI = Decimal("1e-8")


@dataclass(frozen=True)
class Precision:
    quantity: Decimal = EXACT_STEP  # asset units
    amount: Decimal | None = None  # fiat (or quote) units; None: amounts kept exact

    def step(self, market: Market, currency: str) -> Decimal:
        return self.quantity if currency == market.asset else (self.amount or EXACT_STEP)


EXACT = Precision()


def of(market: Market) -> Precision:
    if market.venue is Venue.P2P:
        return Precision(CENT if market.asset == "USDT" else SATOSHI, CENT)
    return Precision(CENT if market.asset == "USDT" else Decimal("0.00001"), SATOSHI)


def down(value: Decimal, step: Decimal | None) -> Decimal:
    return value if step is None else value.quantize(step, rounding=ROUND_DOWN)


def up(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_UP)
