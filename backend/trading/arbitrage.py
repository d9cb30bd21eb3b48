"""Arbitrage as a cycle search over executable conversions, sized by walking every book.

Nodes are currencies; each market gives a BUY edge (fiat -> asset, taking asks) and a
SELL edge (asset -> fiat, taking bids) per payment method. A cycle from USDT back to
USDT whose output beats its input after fees is an opportunity; its shape names the
strategy. Profit is not linear in size, so every ticket size is tried and the best kept.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from backend.market.book import Book, Market, Venue
from backend.trading.execution import ANCHOR, Fees, Leg, LegFill, profit_usd, run_cycle

MAX_LEGS = 3
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Opportunity:
    strategy: str
    legs: tuple[Leg, ...]
    size_usd: Decimal
    profit_usd: Decimal
    fills: tuple[LegFill, ...]

    @property
    def profit_bps(self) -> Decimal:
        return self.profit_usd / self.size_usd * 10000

    @property
    def fingerprint(self) -> str:
        return "|".join(f"{leg.side}:{leg.market}:{leg.method or '-'}" for leg in self.legs)


def edges(books: dict[str, Book]) -> dict[tuple[str, str], list[Leg]]:
    """Every executable conversion, grouped by (from, to) currency."""
    out: dict[tuple[str, str], list[Leg]] = defaultdict(list)
    for key, book in books.items():
        m = Market.parse(key)
        for side, ads, src, dst in (
            ("BUY", book.asks, m.fiat, m.asset),
            ("SELL", book.bids, m.asset, m.fiat),
        ):
            methods = sorted({meth for ad in ads for meth in ad.methods}) or [None]
            for method in methods:
                out[(src, dst)].append(Leg(key, side, method, src, dst))
    return out


def currency_cycles(graph: dict[tuple[str, str], list[Leg]], max_legs: int = MAX_LEGS):
    """Simple cycles ANCHOR -> ... -> ANCHOR as currency sequences."""
    succ = defaultdict(set)
    for src, dst in graph:
        succ[src].add(dst)

    def extend(path):
        for nxt in sorted(succ[path[-1]]):
            if nxt == ANCHOR and len(path) >= 2:
                yield [*path, nxt]
            elif nxt not in path and len(path) < max_legs:
                yield from extend([*path, nxt])

    yield from extend([ANCHOR])


def strategy_of(legs: tuple[Leg, ...]) -> str:
    venues = {Market.parse(leg.market).venue for leg in legs}
    if len(legs) >= 3:
        return "triangle"
    if Venue.SPOT in venues:
        return "spot_p2p"
    return "crossed_book"


def _distinct_books(legs: tuple[Leg, ...]) -> bool:
    """A cycle may not take the same side of the same book twice."""
    sides = [(leg.market, leg.side) for leg in legs]
    return len(sides) == len(set(sides))


def best_rate(legs: tuple[Leg, ...], books: dict[str, Book]) -> Decimal:
    """Units out per unit in at each leg's best price its method can take: no size, fee or
    slippage does better, so a cycle whose best rate is not above 1 cannot profit."""
    rate = Decimal(1)
    for leg in legs:
        prices = [ad.price for ad in books[leg.market].side(leg.side) if ad.accepts(leg.method)]
        prices = [p for p in prices if p > 0]
        if not prices:
            return Decimal(0)
        rate *= 1 / min(prices) if leg.side == "BUY" else max(prices)
    return rate


def scan(
    books: dict[str, Book],
    sizes_usd: list[Decimal],
    fees: Fees,
    min_profit_usd: Decimal,
    slippage: Decimal = Decimal("0"),
) -> list[Opportunity]:
    """The best (methods, size) per currency cycle, if it makes more than zero and at
    least ``min_profit_usd``.

    Priced with the same slippage the executor will apply, so what is listed would fill.
    Every size is tried: with per-order minimums a bigger size can fill where a smaller
    one cannot, and the sizes need not come in order.
    """
    graph = edges(books)
    found = []
    for path in currency_cycles(graph):
        hops = [graph[(a, b)] for a, b in itertools.pairwise(path)]
        best: Opportunity | None = None
        for legs in itertools.product(*hops):
            if not _distinct_books(legs) or best_rate(legs, books) <= 1:
                continue
            for size in sizes_usd:
                fills = run_cycle(legs, books, size, fees, slippage)
                if len(fills) != len(legs) or not fills[-1].complete:
                    continue
                profit = profit_usd(fills)
                if best is None or profit > best.profit_usd:
                    best = Opportunity(strategy_of(legs), legs, size, profit, tuple(fills))
        if best is not None and best.profit_usd > 0 and best.profit_usd >= min_profit_usd:
            found.append(best)
    return sorted(found, key=lambda o: o.profit_usd, reverse=True)
