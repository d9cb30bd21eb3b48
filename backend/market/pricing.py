"""The honest price of a ticket: walk the book over the ads whose limits admit the slice.

Each ad gives at most its tradable quantity and at most its max per-order amount; an
ad whose min per-order amount the remaining slice cannot meet is skipped, not forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from backend.market.book import Ad, Book
from backend.market.precision import EXACT, Precision, down


@dataclass(frozen=True)
class Fill:
    quantity: Decimal  # asset units taken
    amount: Decimal  # fiat paid or received
    complete: bool  # the whole request was filled
    takes: tuple[tuple[str, Decimal, Decimal], ...]  # (ad_no, price, quantity)

    @property
    def price(self) -> Decimal | None:
        return self.amount / self.quantity if self.quantity else None


ZERO = Decimal("0")


def _cap(ad: Ad, step: Decimal) -> Decimal:
    """Most asset one order on this ad can take (its max per order included), in whole
    steps of the venue's quantity."""
    cap = ad.quantity
    if ad.max_amount is not None:
        cap = min(cap, ad.max_amount / ad.price)
    return down(cap, step)


def walk(
    ads: tuple[Ad, ...],
    quantity: Decimal,
    method: str | None = None,
    precision: Precision = EXACT,
) -> Fill:
    """Take ``quantity`` of the asset from ``ads`` in order (best first). Each order is
    a whole number of quantity steps, and its fiat is rounded down to the amount step
    (what selling to bids pays the house). Complete when less than a step is left."""
    remaining, amount, takes = quantity, ZERO, []
    for ad in ads:
        if remaining < precision.quantity:
            break
        if ad.price <= 0 or not ad.accepts(method):
            continue
        take = down(min(remaining, _cap(ad, precision.quantity)), precision.quantity)
        if take <= 0 or take * ad.price < ad.min_amount:
            continue
        takes.append((ad.ad_no, ad.price, take))
        amount += down(take * ad.price, precision.amount)
        remaining -= take
    return Fill(quantity - remaining, amount, remaining < precision.quantity, tuple(takes))


def walk_amount(
    ads: tuple[Ad, ...],
    amount: Decimal,
    method: str | None = None,
    precision: Precision = EXACT,
) -> Fill:
    """Spend ``amount`` of fiat against ``ads`` in order (best first). Each order pays
    a whole number of amount steps and gets the asset rounded down to the quantity step
    (what buying from asks gives the house). Complete when less than a step is left."""
    least = precision.amount or ZERO
    remaining, quantity, spent, takes = amount, ZERO, ZERO, []
    for ad in ads:
        if remaining <= 0 or remaining < least:  # a whole step left is still spent
            break
        if ad.price <= 0 or not ad.accepts(method):
            continue
        cap = _cap(ad, precision.quantity) * ad.price
        take_fiat = down(min(remaining, cap), precision.amount)
        if take_fiat <= 0 or take_fiat < ad.min_amount:
            continue
        qty = down(take_fiat / ad.price, precision.quantity)
        if qty <= 0 or qty * ad.price < ad.min_amount:  # rounded below the ad's minimum
            continue
        takes.append((ad.ad_no, ad.price, qty))
        quantity += qty
        spent += take_fiat
        remaining -= take_fiat
    return Fill(quantity, spent, remaining <= 0 or remaining < least, tuple(takes))


def depth_within(ads: tuple[Ad, ...], fraction: Decimal = Decimal("0.01")) -> Decimal:
    """Asset quantity quoted within ``fraction`` of the best price."""
    if not ads:
        return ZERO
    best = ads[0].price
    lo, hi = best * (1 - fraction), best * (1 + fraction)
    return sum((ad.quantity for ad in ads if lo <= ad.price <= hi), ZERO)


@dataclass(frozen=True)
class SizedQuote:
    size_usd: Decimal
    quantity: Decimal
    effective_bid: Decimal | None
    effective_ask: Decimal | None
    bid_fillable: bool
    ask_fillable: bool


@dataclass(frozen=True)
class Reference:
    """What the Prices page shows for one market."""

    market: str
    source: str
    best_bid: Decimal | None
    best_ask: Decimal | None
    mid: Decimal | None
    spread_pct: Decimal | None
    bid_depth_1pct: Decimal
    ask_depth_1pct: Decimal
    sizes: tuple[SizedQuote, ...]
    fetched_at: datetime
    age_seconds: float
    stale: bool

    def at(self, size_usd: Decimal) -> SizedQuote | None:
        return next((q for q in self.sizes if q.size_usd == size_usd), None)


def reference(
    book: Book,
    sizes_usd: list[Decimal],
    usd_per_asset: Decimal,
    now: datetime,
    stale_after: float,
) -> Reference:
    best_bid = book.bids[0].price if book.bids else None
    best_ask = book.asks[0].price if book.asks else None
    mid = spread = None
    if best_bid is not None and best_ask is not None:
        mid = (best_bid + best_ask) / 2
        spread = (best_ask - best_bid) / mid * 100
    quotes = []
    for size in sizes_usd:
        qty = size / usd_per_asset
        bid, ask = walk(book.bids, qty), walk(book.asks, qty)
        quotes.append(  # a size the book cannot fill has no price: a partial average is none
            SizedQuote(
                size,
                qty,
                bid.price if bid.complete else None,
                ask.price if ask.complete else None,
                bid.complete,
                ask.complete,
            )
        )
    age = book.age_seconds(now)
    return Reference(
        market=book.market.key,
        source=book.source,
        best_bid=best_bid,
        best_ask=best_ask,
        mid=mid,
        spread_pct=spread,
        bid_depth_1pct=depth_within(book.bids),
        ask_depth_1pct=depth_within(book.asks),
        sizes=tuple(quotes),
        fetched_at=book.fetched_at,
        age_seconds=age,
        stale=age > stale_after,
    )
